//! Days and clocks. Challenge days are dates in the challenge's time zone; the browser reads its own clock through
//! `Intl` for "today there" and "time left today". Wherever the server has said what today is (a challenge's live
//! progress, judged by the server's clock), screens use that instead.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// The date and the minutes since midnight in `tz` by the browser's clock. Falls back to Seoul time (UTC+9, no
/// daylight saving) if the browser does not know the zone.
pub fn now_in(tz: &str) -> (NaiveDate, u32) {
    let now_ms = js_sys::Date::now();
    intl_parts(tz, now_ms).unwrap_or_else(|| {
        let seoul = DateTime::<Utc>::from_timestamp_millis(now_ms as i64).unwrap_or_default() + Duration::hours(9);
        let naive: NaiveDateTime = seoul.naive_utc();
        (naive.date(), minutes_of(naive))
    })
}

pub fn today_in(tz: &str) -> NaiveDate {
    now_in(tz).0
}

/// Minutes until midnight in `tz`.
pub fn minutes_left_today(tz: &str) -> u32 {
    24 * 60 - now_in(tz).1.min(24 * 60)
}

fn minutes_of(t: NaiveDateTime) -> u32 {
    use chrono::Timelike;
    t.hour() * 60 + t.minute()
}

fn intl_parts(tz: &str, now_ms: f64) -> Option<(NaiveDate, u32)> {
    let intl = Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
    let ctor: Function = Reflect::get(&intl, &"DateTimeFormat".into()).ok()?.dyn_into().ok()?;
    let options = Object::new();
    for (k, v) in [
        ("timeZone", tz),
        ("year", "numeric"),
        ("month", "numeric"),
        ("day", "numeric"),
        ("hour", "numeric"),
        ("minute", "numeric"),
        ("hourCycle", "h23"),
    ] {
        Reflect::set(&options, &k.into(), &v.into()).ok()?;
    }
    let args = Array::of2(&"en-US".into(), &options);
    let format = Reflect::construct(&ctor, &args).ok()?;
    let to_parts: Function = Reflect::get(&format, &"formatToParts".into()).ok()?.dyn_into().ok()?;
    let parts: Array = to_parts.call1(&format, &js_sys::Date::new(&JsValue::from_f64(now_ms))).ok()?.dyn_into().ok()?;
    let mut fields = [0u32; 5];
    for part in parts.iter() {
        let kind = Reflect::get(&part, &"type".into()).ok()?.as_string()?;
        let slot = match kind.as_str() {
            "year" => 0,
            "month" => 1,
            "day" => 2,
            "hour" => 3,
            "minute" => 4,
            _ => continue,
        };
        fields[slot] = Reflect::get(&part, &"value".into()).ok()?.as_string()?.parse().ok()?;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(fields[0]).ok()?, fields[1], fields[2])?;
    Some((date, fields[3] % 24 * 60 + fields[4]))
}

/// The browser's offset from UTC in minutes at `at` (east positive), for showing times in local time.
pub fn local_offset_minutes(at: DateTime<Utc>) -> i32 {
    let date = js_sys::Date::new(&JsValue::from_f64(at.timestamp_millis() as f64));
    -(date.get_timezone_offset() as i32)
}

/// `at` on the browser's wall clock.
pub fn local(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc() + Duration::minutes(i64::from(local_offset_minutes(at)))
}

/// Days from `start` to `end`, both included.
pub fn days_inclusive(start: NaiveDate, end: NaiveDate) -> i64 {
    (end - start).num_days() + 1
}

/// How much of the challenge's span has gone by on `today`, from 0.0 (not started) to 1.0 (over).
pub fn fraction_gone(start: NaiveDate, end: NaiveDate, today: NaiveDate) -> f64 {
    let total = days_inclusive(start, end).max(1);
    let gone = (today - start).num_days().clamp(0, total);
    gone as f64 / total as f64
}

/// Monday-first index of `day` (0 = Monday).
pub fn weekday_index(day: NaiveDate) -> u32 {
    day.weekday().num_days_from_monday()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn spans_count_both_ends() {
        assert_eq!(days_inclusive(d("2025-05-01"), d("2025-05-14")), 14);
        assert_eq!(days_inclusive(d("2025-05-01"), d("2025-05-01")), 1);
    }

    #[test]
    fn the_share_gone_is_clamped() {
        let (start, end) = (d("2025-05-01"), d("2025-05-10"));
        assert_eq!(fraction_gone(start, end, d("2025-04-20")), 0.0);
        assert_eq!(fraction_gone(start, end, d("2025-05-06")), 0.5);
        assert_eq!(fraction_gone(start, end, d("2025-06-01")), 1.0);
    }
}

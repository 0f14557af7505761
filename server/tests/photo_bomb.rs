//! A decoding bomb is refused before anything is allocated for its pixels. Every allocation of this test process
//! is counted (a global allocator that wraps the system's), so the test sees what checking a photo really takes:
//! the 16-bit 6000×6000 PNG of about 200 KB, whose pixels would take 216 MB, is refused with a few megabytes at
//! most; and a photo just inside the bound does take about what the bound says, which shows the counting works.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use nene_server::photos::{self, MAX_DECODE_BYTES, PhotoError};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only the counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(live, Ordering::SeqCst);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(live, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::SeqCst) + new_size - layout.size();
                PEAK.fetch_max(live, Ordering::SeqCst);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::SeqCst);
            }
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// The most `f` holds at once beyond what was held before it ran, in bytes, and its answer.
fn peak_of<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let answer = f();
    (PEAK.load(Ordering::SeqCst) - before, answer)
}

const MB: usize = 1024 * 1024;

#[test]
fn a_decoding_bomb_is_refused_before_its_pixels_are_allocated() {
    let bomb = support::png16_black(6000, 6000, "bomb");
    assert!(bomb.len() < 400 * 1024, "{} bytes", bomb.len());
    let (peak, answer) = peak_of(|| photos::check(&bomb));
    assert!(matches!(answer, Err(PhotoError::TooLargeToOpen)), "{answer:?}");
    assert!(peak < 4 * MB, "refusing the bomb took {} KB", peak / 1024);
}

#[test]
fn a_photo_inside_the_bound_takes_about_what_the_bound_counts() {
    // 4700×4700 at six bytes a pixel is 132.5 MB, just under the 128 MiB bound.
    let photo = support::png16_black(4700, 4700, "near the bound");
    let (peak, answer) = peak_of(|| photos::check(&photo));
    let checked = answer.expect("a photo within the bound decodes");
    assert_eq!((checked.width, checked.height), (4700, 4700));
    let pixels = 4700 * 4700 * 6;
    assert!(peak >= pixels, "decoding held {} MB, less than its own pixels", peak / MB);
    assert!(peak as u64 <= MAX_DECODE_BYTES + 8 * MB as u64, "decoding held {} MB", peak / MB);
}

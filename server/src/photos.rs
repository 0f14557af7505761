//! Checking proof photos and making their thumbnails.
//!
//! A photo is accepted only if its content is a JPEG, PNG or WebP that really decodes: the file name and the
//! client's content type are never trusted. The input comes from anyone, and a file of a few hundred kilobytes can
//! claim pixels that take gigabytes to hold (a 16-bit 6000×6000 PNG of zeros is 205 KB and 216 MB decoded), so
//! every decode is bounded twice: its header is read first and the photo refused when what decoding it would take
//! (the pixels at their bit depth, and what the format's decoder keeps besides) passes [`MAX_DECODE_BYTES`]; and
//! only [`Decoders`]' permits (one per core by default) decode at once, so all decoding together stays under
//! permits × that bound however many uploads arrive together.

use std::io::Cursor;
use std::sync::Arc;

use axum::body::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};
use tokio::sync::Semaphore;

/// The largest photo accepted, in bytes.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// The most pixels decoded: more than a phone camera takes.
const MAX_PIXELS: u64 = 40_000_000;
const MAX_SIDE: u32 = 12_000;
/// The most memory one decode may take: the decoded pixels plus the decoder's own working buffers. A 40-megapixel
/// 8-bit RGB photo (120 MB) fits; the same pixels at 16 bits per channel, or with a progressive JPEG's
/// coefficients, must be fewer.
pub const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;
/// Thumbnails fit in this square.
const THUMBNAIL_SIDE: u32 = 320;
const THUMBNAIL_QUALITY: u8 = 80;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoFormat {
    Jpeg,
    Png,
    Webp,
}

impl PhotoFormat {
    pub fn mime(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "image/jpeg",
            PhotoFormat::Png => "image/png",
            PhotoFormat::Webp => "image/webp",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "jpeg",
            PhotoFormat::Png => "png",
            PhotoFormat::Webp => "webp",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            PhotoFormat::Jpeg => ImageFormat::Jpeg,
            PhotoFormat::Png => ImageFormat::Png,
            PhotoFormat::Webp => ImageFormat::WebP,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("the photo is empty")]
    Empty,
    #[error("the photo is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("not a JPEG, PNG or WebP photo")]
    NotAPhoto,
    #[error("the photo could not be read")]
    Unreadable,
    #[error("the photo has too many pixels")]
    TooManyPixels,
    #[error("the photo would take more than {} MB of memory to open", MAX_DECODE_BYTES / (1024 * 1024))]
    TooLargeToOpen,
    /// The decoding task panicked or was cancelled: a fault on our side, not a verdict on the photo.
    #[error("photo checking task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// The decoders were closed (the server is stopping): not a verdict on the photo either.
    #[error("photo checking has stopped")]
    Stopped,
}

impl PhotoError {
    /// Whether the fault is ours rather than the photo's.
    pub fn is_internal(&self) -> bool {
        matches!(self, PhotoError::Join(_) | PhotoError::Stopped)
    }
}

/// The photo decodes allowed at once, shared by every request that checks a photo. Sized to the cores by default:
/// decoding is CPU-bound, so more at once would only share the same cores while holding more memory.
#[derive(Clone, Debug)]
pub struct Decoders {
    permits: Arc<Semaphore>,
}

impl Decoders {
    pub fn new(at_once: usize) -> Self {
        Decoders { permits: Arc::new(Semaphore::new(at_once.max(1))) }
    }

    /// [`check`] on the blocking pool once a decoder is free. The permit is taken before the blocking task exists
    /// and moves into it: a request dropped while its photo decodes still holds its permit until the decode ends,
    /// so the bound counts every decode that is running, not only those someone still waits for.
    ///
    /// The bytes are shared, not copied: a photo waiting for a decoder costs its upload's buffer and nothing more.
    pub async fn check(&self, bytes: Bytes) -> Result<CheckedPhoto, PhotoError> {
        let permit = Arc::clone(&self.permits).acquire_owned().await.map_err(|_| PhotoError::Stopped)?;
        tokio::task::spawn_blocking(move || {
            let checked = check(&bytes);
            drop(permit);
            checked
        })
        .await?
    }
}

/// A photo that decodes, with what the server keeps about it.
#[derive(Clone, Debug)]
pub struct CheckedPhoto {
    pub format: PhotoFormat,
    /// Upright, as the photo is shown (after any EXIF rotation), so they agree with the thumbnail's shape.
    pub width: u32,
    pub height: u32,
    /// Fits in 320×320, upright, never enlarged.
    pub thumbnail_jpeg: Vec<u8>,
}

/// The format the content says it is, by its magic bytes alone.
pub fn sniff(bytes: &[u8]) -> Option<PhotoFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(PhotoFormat::Jpeg)
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(PhotoFormat::Png)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(PhotoFormat::Webp)
    } else {
        None
    }
}

/// Checks a proof photo and makes its thumbnail. Cheap checks (size, magic bytes) come first so that junk is
/// refused without decoding anything. CPU-heavy and memory-hungry: async code goes through [`Decoders::check`].
pub fn check(bytes: &[u8]) -> Result<CheckedPhoto, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(PhotoError::TooLarge { max: MAX_PHOTO_BYTES });
    }
    let format = sniff(bytes).ok_or(PhotoError::NotAPhoto)?;

    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().map_err(decode_error)?;

    // Only the header is read by now: what decoding would take is known before a single pixel buffer exists.
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoError::TooManyPixels);
    }
    if decode_cost(format, bytes, width, height, decoder.total_bytes()) > MAX_DECODE_BYTES {
        return Err(PhotoError::TooLargeToOpen);
    }
    // `ImageReader::decode` would count the output buffer against `max_alloc`; going through the decoder ourselves
    // (to read the orientation) means doing that here.
    limits.reserve(decoder.total_bytes()).map_err(decode_error)?;
    // Phones often store photos sideways with an EXIF tag saying how to turn them; a thumbnail shown sideways looks
    // broken. A malformed tag is not worth refusing the photo for. The turn is applied to the thumbnail, never to
    // the full image, which would copy every pixel once more.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    let (width, height) = match orientation {
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH => {
            (image.height(), image.width())
        }
        _ => (image.width(), image.height()),
    };
    let thumbnail_jpeg = thumbnail(image, orientation)?;
    Ok(CheckedPhoto { format, width, height, thumbnail_jpeg })
}

/// The bytes decoding a photo of this header takes at its peak: the decoded pixels (`out_bytes`, at the image's
/// channels and bit depth) and what the format's decoder holds besides them. A progressive JPEG keeps the
/// coefficients of the whole image (two bytes per sample of each component); a WebP decoder keeps a frame of its
/// own (up to four bytes a pixel, three frames' worth for an animation). PNG and baseline JPEG decode row by row
/// into the output.
fn decode_cost(format: PhotoFormat, bytes: &[u8], width: u32, height: u32, out_bytes: u64) -> u64 {
    let pixels = u64::from(width) * u64::from(height);
    let working = match format {
        PhotoFormat::Png => 0,
        PhotoFormat::Jpeg => jpeg_coefficient_bytes(bytes, width, height),
        PhotoFormat::Webp if webp_is_animated(bytes) => pixels.saturating_mul(12),
        PhotoFormat::Webp => pixels.saturating_mul(4),
    };
    out_bytes.saturating_add(working)
}

/// The memory a JPEG decoder keeps for the whole image's coefficients: none for a sequential (baseline) JPEG, which
/// is decoded a row of blocks at a time; for a progressive one, two bytes per sample of every component at its own
/// sampling, padded to whole blocks of the largest sampling. A frame header that cannot be read counts as
/// progressive with three full-size components (the most a photo decoder is asked to keep).
fn jpeg_coefficient_bytes(bytes: &[u8], width: u32, height: u32) -> u64 {
    let worst = u64::from(width) * u64::from(height) * 3 * 2;
    let Some(frame) = jpeg_frame(bytes) else { return worst };
    if !frame.progressive {
        return 0;
    }
    let h_max = u64::from(frame.components.iter().map(|c| c.0).max().unwrap_or(1).max(1));
    let v_max = u64::from(frame.components.iter().map(|c| c.1).max().unwrap_or(1).max(1));
    let padded_w = u64::from(width).div_ceil(8 * h_max) * 8 * h_max;
    let padded_h = u64::from(height).div_ceil(8 * v_max) * 8 * v_max;
    frame
        .components
        .iter()
        .map(|&(h, v)| padded_w * u64::from(h) / h_max * (padded_h * u64::from(v) / v_max) * 2)
        .fold(0u64, u64::saturating_add)
}

/// What a JPEG's frame header says: progressive or not, and each component's sampling factors (horizontal,
/// vertical).
struct JpegFrame {
    progressive: bool,
    components: Vec<(u8, u8)>,
}

/// Reads the markers after SOI up to the frame header (SOF). Bounded by the input: each step moves forward.
fn jpeg_frame(bytes: &[u8]) -> Option<JpegFrame> {
    let mut i = 2;
    while i + 1 < bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        match marker {
            // Fill bytes before a marker.
            0xFF => i += 1,
            // Markers without a length.
            0x01 | 0xD0..=0xD8 => i += 2,
            _ => {
                let length = usize::from(u16::from_be_bytes([*bytes.get(i + 2)?, *bytes.get(i + 3)?]));
                let segment = bytes.get(i + 4..i + 2 + length)?;
                // Frame headers: C0–CF except DHT (C4), JPG (C8) and DAC (CC).
                if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
                    let count = usize::from(*segment.get(5)?);
                    let components = (0..count)
                        .map(|k| segment.get(6 + 3 * k + 1).map(|s| (s >> 4, s & 0x0F)))
                        .collect::<Option<Vec<_>>>()?;
                    let progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                    return Some(JpegFrame { progressive, components });
                }
                i += 2 + length;
            }
        }
    }
    None
}

/// Whether a WebP file is animated: the animation flag of its extended header (VP8X), when it has one.
fn webp_is_animated(bytes: &[u8]) -> bool {
    bytes.get(12..16) == Some(b"VP8X") && bytes.get(20).is_some_and(|flags| flags & 0x02 != 0)
}

fn decode_error(e: ImageError) -> PhotoError {
    match e {
        ImageError::Limits(_) => PhotoError::TooManyPixels,
        e => {
            tracing::debug!(error = %e, "photo does not decode");
            PhotoError::Unreadable
        }
    }
}

/// A JPEG that fits in the thumbnail square, keeping the aspect ratio, turned upright. `thumbnail` averages every
/// source pixel into its target pixel: fast on large photos and free of the aliasing of plain sampling. Small photos
/// are kept at their size rather than blown up. The square is the same whichever way the image is turned, so it is
/// made small first and turned after.
fn thumbnail(image: DynamicImage, orientation: Orientation) -> Result<Vec<u8>, PhotoError> {
    let mut small = if image.width() > THUMBNAIL_SIDE || image.height() > THUMBNAIL_SIDE {
        let small = image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE);
        drop(image);
        small
    } else {
        image
    };
    small.apply_orientation(orientation);
    let rgb = flatten_on_white(&small);
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, THUMBNAIL_QUALITY).encode_image(&rgb).map_err(|e| {
        // Encoding a decoded RGB image in memory has no reason to fail; if it does, it is not the photo's fault,
        // but there is still no thumbnail to show.
        tracing::warn!(error = %e, "thumbnail encoding failed");
        PhotoError::Unreadable
    })?;
    Ok(out)
}

/// JPEG has no transparency. Dropping the alpha channel would show whatever colour hides under transparent pixels
/// (often black), so transparent parts are painted white, as a browser shows them on a white page.
fn flatten_on_white(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let a = u16::from(a);
        let over_white = |c: u8| ((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, ((x + y) % 256) as u8])
        })
    }

    fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn each_format_is_sniffed_checked_and_thumbnailed() {
        let source = gradient(1000, 600);
        for (format, image_format, mime) in [
            (PhotoFormat::Jpeg, ImageFormat::Jpeg, "image/jpeg"),
            (PhotoFormat::Png, ImageFormat::Png, "image/png"),
            (PhotoFormat::Webp, ImageFormat::WebP, "image/webp"),
        ] {
            let bytes = encode(&source, image_format);
            assert_eq!(sniff(&bytes), Some(format));
            let checked = check(&bytes).unwrap();
            assert_eq!(checked.format, format);
            assert_eq!(checked.format.mime(), mime);
            assert_eq!((checked.width, checked.height), (1000, 600));
            assert_eq!(sniff(&checked.thumbnail_jpeg), Some(PhotoFormat::Jpeg));
            let thumb = image::load_from_memory_with_format(&checked.thumbnail_jpeg, ImageFormat::Jpeg).unwrap();
            assert_eq!((thumb.width(), thumb.height()), (320, 192), "{format:?}");
        }
    }

    #[test]
    fn tall_photos_fit_by_height_and_small_ones_are_not_enlarged() {
        let tall = check(&encode(&gradient(300, 900), ImageFormat::Png)).unwrap();
        let thumb = image::load_from_memory(&tall.thumbnail_jpeg).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (107, 320));

        let small = check(&encode(&gradient(100, 50), ImageFormat::Png)).unwrap();
        let thumb = image::load_from_memory(&small.thumbnail_jpeg).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (100, 50));
    }

    #[test]
    fn transparent_pixels_become_white_in_the_thumbnail() {
        let clear = image::RgbaImage::from_pixel(40, 40, image::Rgba([0, 0, 0, 0]));
        let mut bytes = Cursor::new(Vec::new());
        clear.write_to(&mut bytes, ImageFormat::Png).unwrap();
        let checked = check(bytes.get_ref()).unwrap();
        let thumb = image::load_from_memory(&checked.thumbnail_jpeg).unwrap().to_rgb8();
        assert!(thumb.pixels().all(|p| p.0.iter().all(|&c| c > 245)), "{:?}", thumb.get_pixel(0, 0));
    }

    #[test]
    fn exif_rotation_is_applied() {
        // A minimal little-endian EXIF block with one entry: Orientation (0x0112) = 6, "turn 90° clockwise", which
        // is how a phone held upright stores a landscape-sized sensor image.
        let mut exif = b"II\x2a\0\x08\0\0\0".to_vec();
        exif.extend_from_slice(&1u16.to_le_bytes());
        exif.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
        exif.extend_from_slice(&0u32.to_le_bytes());
        let source = gradient(1000, 600);
        let mut bytes = Vec::new();
        let mut encoder = JpegEncoder::new_with_quality(&mut bytes, 90);
        image::ImageEncoder::set_exif_metadata(&mut encoder, exif).unwrap();
        encoder.encode_image(&source).unwrap();

        let checked = check(&bytes).unwrap();
        assert_eq!((checked.width, checked.height), (600, 1000));
        let thumb = image::load_from_memory(&checked.thumbnail_jpeg).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (192, 320));
    }

    #[test]
    fn format_names() {
        assert_eq!(PhotoFormat::Jpeg.as_str(), "jpeg");
        assert_eq!(PhotoFormat::Png.as_str(), "png");
        assert_eq!(PhotoFormat::Webp.as_str(), "webp");
        assert_eq!(PhotoFormat::Webp.mime(), "image/webp");
    }

    #[test]
    fn text_is_not_a_photo() {
        assert_eq!(sniff(b"hello, I ran today"), None);
        assert!(matches!(check(b"hello, I ran today"), Err(PhotoError::NotAPhoto)));
        // RIFF, but another kind of RIFF (a WAV file).
        assert!(matches!(check(b"RIFF\x24\0\0\0WAVEfmt "), Err(PhotoError::NotAPhoto)));
        // Too short to hold the WebP tag.
        assert_eq!(sniff(b"RIFF"), None);
    }

    #[test]
    fn a_truncated_jpeg_is_unreadable() {
        let bytes = encode(&gradient(1000, 600), ImageFormat::Jpeg);
        let truncated = &bytes[..200];
        assert_eq!(sniff(truncated), Some(PhotoFormat::Jpeg));
        assert!(matches!(check(truncated), Err(PhotoError::Unreadable)));
    }

    #[test]
    fn magic_bytes_alone_are_unreadable() {
        assert!(matches!(check(&[0xFF, 0xD8, 0xFF]), Err(PhotoError::Unreadable)));
        assert!(matches!(check(b"\x89PNG\r\n\x1a\n"), Err(PhotoError::Unreadable)));
        assert!(matches!(check(b"RIFF\0\0\0\0WEBP"), Err(PhotoError::Unreadable)));
    }

    #[test]
    fn size_is_checked_before_decoding() {
        let mut bytes = vec![0u8; MAX_PHOTO_BYTES + 1];
        bytes[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
        assert!(matches!(check(&bytes), Err(PhotoError::TooLarge { max: MAX_PHOTO_BYTES })));
        assert!(matches!(check(&[]), Err(PhotoError::Empty)));
    }

    #[test]
    fn huge_dimensions_are_refused_before_decoding() {
        // A valid PNG header claiming 8000×8000 (64 megapixels), with no pixel data behind it: only the header
        // may be read, so the answer must be about the pixels, not about the missing data.
        let header = png_header(8000, 8000);
        assert!(matches!(check(&header), Err(PhotoError::TooManyPixels)));
        // Wider than any side allowed, though few pixels in all.
        let header = png_header(20_000, 1);
        assert!(matches!(check(&header), Err(PhotoError::TooManyPixels)));
    }

    /// The PNG signature, an IHDR chunk (8-bit RGB) and an empty IDAT chunk, with correct CRCs: everything a
    /// decoder reads before the pixels, and no pixels.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        png_header_of(width, height, 8)
    }

    /// [`png_header`] at 16 bits per channel.
    fn png16_header(width: u32, height: u32) -> Vec<u8> {
        png_header_of(width, height, 16)
    }

    fn png_header_of(width: u32, height: u32, depth: u8) -> Vec<u8> {
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[depth, 2, 0, 0, 0]);
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        push_chunk(&mut bytes, b"IHDR", &ihdr);
        push_chunk(&mut bytes, b"IDAT", &[]);
        bytes
    }

    fn push_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[tokio::test]
    async fn decoders_give_the_same_answers() {
        let decoders = Decoders::new(1);
        let bytes = encode(&gradient(1000, 600), ImageFormat::WebP);
        let checked = decoders.check(bytes.into()).await.unwrap();
        assert_eq!((checked.format, checked.width, checked.height), (PhotoFormat::Webp, 1000, 600));
        assert!(matches!(decoders.check(Bytes::from_static(b"hello, I ran today")).await, Err(PhotoError::NotAPhoto)));
    }

    #[tokio::test]
    async fn no_more_decode_at_once_than_there_are_permits() {
        let decoders = Decoders::new(2);
        // Hold both permits: a third check waits for one, and runs once one is free.
        let held = Arc::clone(&decoders.permits).acquire_many_owned(2).await.unwrap();
        let bytes = encode(&gradient(64, 64), ImageFormat::Png);
        let waiting = tokio::spawn({
            let decoders = decoders.clone();
            async move { decoders.check(bytes.into()).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        assert_eq!(decoders.permits.available_permits(), 0);
        drop(held);
        let checked = tokio::time::timeout(std::time::Duration::from_secs(30), waiting).await.unwrap().unwrap();
        assert_eq!(checked.unwrap().width, 64);
        assert_eq!(decoders.permits.available_permits(), 2);
    }

    /// A 16-bit RGB PNG of `width`×`height` zeros, compressed (a 6000×6000 one is about 200 KB).
    fn png16_zeros(width: u32, height: u32) -> Vec<u8> {
        let image = image::ImageBuffer::<image::Rgb<u16>, _>::new(width, height);
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn what_decoding_takes_is_judged_from_the_header() {
        // The pixels at their bit depth: 16-bit RGB is six bytes a pixel, so 5000×5000 (25 megapixels, under the
        // pixel cap) would take 150 MB and is refused, while the same as 8-bit (75 MB) is fine.
        assert!(matches!(check(&png16_header(5000, 5000)), Err(PhotoError::TooLargeToOpen)));
        assert!(matches!(check(&png_header(5000, 5000)), Err(PhotoError::Unreadable)));
        // A real 16-bit photo within the bound decodes.
        let checked = check(&png16_zeros(400, 300)).unwrap();
        assert_eq!((checked.width, checked.height), (400, 300));
    }

    #[test]
    fn progressive_jpegs_count_their_coefficients() {
        let source = gradient(640, 480);
        let baseline = encode(&source, ImageFormat::Jpeg);
        let frame = jpeg_frame(&baseline).unwrap();
        assert!(!frame.progressive);
        assert_eq!(jpeg_coefficient_bytes(&baseline, 640, 480), 0);
        // The same frame header marked progressive (SOF2): three full-size components (image's encoder does not
        // subsample), two bytes a sample.
        let mut progressive = baseline.clone();
        let at = progressive.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        progressive[at + 1] = 0xC2;
        let frame = jpeg_frame(&progressive).unwrap();
        assert!(frame.progressive);
        assert_eq!(frame.components, vec![(1, 1), (1, 1), (1, 1)]);
        assert_eq!(jpeg_coefficient_bytes(&progressive, 640, 480), 640 * 480 * 3 * 2);
        // With luma sampled 2×2 (chroma at a quarter, as phones write): one full plane and two quarter ones.
        // The Y component's sampling byte follows the marker, length, precision, height, width, count and its id.
        progressive[at + 11] = 0x22;
        assert_eq!(jpeg_frame(&progressive).unwrap().components, vec![(2, 2), (1, 1), (1, 1)]);
        assert_eq!(jpeg_coefficient_bytes(&progressive, 640, 480), (640 * 480 + 2 * 320 * 240) * 2);
        // Without a readable frame header, the worst case.
        assert_eq!(jpeg_coefficient_bytes(&[0xFF, 0xD8, 0xFF], 10, 10), 600);
        // 12 megapixels (a phone's photo) fit either way; 40 progressive ones do not.
        assert!(decode_cost(PhotoFormat::Jpeg, &progressive, 4032, 3024, 4032 * 3024 * 3) <= MAX_DECODE_BYTES);
        assert!(decode_cost(PhotoFormat::Jpeg, &progressive, 7300, 5475, 7300 * 5475 * 3) > MAX_DECODE_BYTES);
        assert!(decode_cost(PhotoFormat::Jpeg, &baseline, 7300, 5475, 7300 * 5475 * 3) <= MAX_DECODE_BYTES);
    }

    #[test]
    fn animated_webp_is_recognised() {
        let mut vp8x = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0".to_vec();
        vp8x.extend_from_slice(&[0x02, 0, 0, 0]);
        assert!(webp_is_animated(&vp8x));
        vp8x[20] = 0x10; // alpha only
        assert!(!webp_is_animated(&vp8x));
        assert!(!webp_is_animated(&encode(&gradient(10, 10), ImageFormat::WebP)));
    }
}

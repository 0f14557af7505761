//! Checking proof photos and making their thumbnails.
//!
//! A photo is accepted only if its content is a JPEG, PNG or WebP that really decodes: the file name and the
//! client's content type are never trusted. Decoding is bounded (bytes, pixels, memory) because the input comes from
//! anyone, and it is CPU-heavy, so the server calls [`check_blocking`], which runs it on the blocking pool.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};

/// The largest photo accepted, in bytes.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// The most pixels decoded: more than a phone camera takes. With the side and allocation caps it bounds what one
/// decode can take (an 8-bit RGB image of 40 megapixels is 120 MB), whatever the file's header claims.
const MAX_PIXELS: u64 = 40_000_000;
const MAX_SIDE: u32 = 12_000;
const MAX_ALLOC: u64 = 256 * 1024 * 1024;
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
    /// The decoding task panicked or was cancelled: a fault on our side, not a verdict on the photo.
    #[error("photo checking task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
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
/// refused without decoding anything. CPU-heavy: call [`check_blocking`] from async code.
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
    limits.max_alloc = Some(MAX_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().map_err(decode_error)?;

    // The header is read by now, so the size is known before a single pixel buffer is allocated.
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoError::TooManyPixels);
    }
    // `ImageReader::decode` would count the output buffer against `max_alloc`; going through the decoder ourselves
    // (to read the orientation) means doing that here.
    limits.reserve(decoder.total_bytes()).map_err(decode_error)?;
    // Phones often store photos sideways with an EXIF tag saying how to turn them; a thumbnail shown sideways looks
    // broken. A malformed tag is not worth refusing the photo for.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);

    let thumbnail_jpeg = thumbnail(&image)?;
    Ok(CheckedPhoto { format, width: image.width(), height: image.height(), thumbnail_jpeg })
}

/// [`check`] on the blocking pool, so decoding never stalls the async workers.
pub async fn check_blocking(bytes: Vec<u8>) -> Result<CheckedPhoto, PhotoError> {
    tokio::task::spawn_blocking(move || check(&bytes)).await?
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

/// A JPEG that fits in the thumbnail square, keeping the aspect ratio. `thumbnail` averages every source pixel
/// into its target pixel: fast on large photos and free of the aliasing of plain sampling. Small photos are kept
/// at their size rather than blown up.
fn thumbnail(image: &DynamicImage) -> Result<Vec<u8>, PhotoError> {
    let small = if image.width() > THUMBNAIL_SIDE || image.height() > THUMBNAIL_SIDE {
        image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    } else {
        image.clone()
    };
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
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
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
    async fn check_blocking_gives_the_same_answers() {
        let bytes = encode(&gradient(1000, 600), ImageFormat::WebP);
        let checked = check_blocking(bytes).await.unwrap();
        assert_eq!((checked.format, checked.width, checked.height), (PhotoFormat::Webp, 1000, 600));
        assert!(matches!(check_blocking(b"hello, I ran today".to_vec()).await, Err(PhotoError::NotAPhoto)));
    }
}

//! Test photos built by hand: PNGs whose size on disk says nothing about what they take to decode.

use flate2::{Compress, Compression, FlushCompress};

/// A 16-bit RGB PNG of `width`×`height` black pixels, carrying `note` in a text chunk (so photos of one size can
/// still differ in content, and so in name). Built without ever holding the pixels: the pixel data is one deflate
/// block for a band of rows, repeated (each copy refers only to zeros before it), so a 6000×6000 image is about
/// 200 KB on disk and 216 MB decoded.
pub fn png16_black(width: u32, height: u32, note: &str) -> Vec<u8> {
    let row = 1 + width as usize * 6;
    let band_rows = (1..=64).rev().find(|n| height.is_multiple_of(*n)).unwrap_or(1) as usize;
    let band = vec![0u8; row * band_rows];
    let mut block = Vec::with_capacity(band.len() / 64 + 4096);
    let mut deflate = Compress::new(Compression::best(), false);
    deflate.compress_vec(&band, &mut block, FlushCompress::Sync).expect("deflate");
    assert_eq!(deflate.total_in() as usize, band.len(), "the band fits in one call");

    let total = row as u64 * u64::from(height);
    let mut zlib = vec![0x78, 0xDA];
    for _ in 0..height as usize / band_rows {
        zlib.extend_from_slice(&block);
    }
    // A last, empty block (fixed codes, end of block at once), then the Adler-32 of all those zeros.
    zlib.extend_from_slice(&[0x03, 0x00]);
    let adler = ((total % 65_521) << 16) as u32 | 1;
    zlib.extend_from_slice(&adler.to_be_bytes());

    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[16, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"tEXt", format!("Comment\0{note}").as_bytes());
    for part in zlib.chunks(1 << 20) {
        chunk(&mut png, b"IDAT", part);
    }
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

//! The system bundle: what the tools pack into the root task's image — the
//! compact spec and the files its frame fills name (component ELFs) — and its
//! heap-free reader.
//!
//! ```text
//! Header  magic "CERNESYS" | version u32 (1) | file count u32 | spec {offset u32, len u32}
//! Entry × file count       name {offset u32, len u32} | data {offset u32, len u32}
//! bytes                    the spec, the names, the files (each file 8-byte aligned
//!                          relative to the bundle's start)
//! ```
//!
//! Offsets count from the bundle's first byte. [`Bundle::new`] checks every
//! one, so the accessors never index out of range.

use zerocopy::little_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::compact::{DecodeError, SpecView};

/// The first eight bytes of a bundle.
pub const MAGIC: [u8; 8] = *b"CERNESYS";
/// The layout version written and read.
pub const VERSION: u32 = 1;

/// A byte range of the bundle.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Span {
    /// Offset from the bundle's start.
    pub offset: U32,
    /// Length in bytes.
    pub len: U32,
}

/// The bundle header.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct BundleHeader {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`VERSION`].
    pub version: U32,
    /// Number of [`FileEntry`] records after the header.
    pub file_count: U32,
    /// The compact spec.
    pub spec: Span,
}

/// One named file.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct FileEntry {
    /// The name (UTF-8), as fills write it without quotes.
    pub name: Span,
    /// The contents.
    pub data: Span,
}

/// Why bytes are not a bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleError {
    /// Shorter than its header or file table.
    TooShort,
    /// Not [`MAGIC`].
    BadMagic,
    /// A version this reader does not know.
    UnsupportedVersion(u32),
    /// A span leaves the bundle, or a name is not UTF-8.
    BadSpan,
    /// The embedded spec is not a compact spec.
    Spec(DecodeError),
}

impl core::fmt::Display for BundleError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooShort => write!(f, "the system bundle is truncated"),
            Self::BadMagic => write!(f, "no system bundle (magic is not CERNESYS)"),
            Self::UnsupportedVersion(v) => write!(f, "system bundle version {v} is not 1"),
            Self::BadSpan => write!(f, "a system bundle entry lies outside the bundle"),
            Self::Spec(e) => write!(f, "the embedded capDL spec is malformed: {e}"),
        }
    }
}

/// A checked view of a bundle.
#[derive(Clone, Copy, Debug)]
pub struct Bundle<'a> {
    bytes: &'a [u8],
    entries: &'a [FileEntry],
    /// The spec.
    pub spec: SpecView<'a>,
}

fn span_bytes(bytes: &[u8], span: Span) -> Option<&[u8]> {
    let start = span.offset.get() as usize;
    bytes.get(start..start.checked_add(span.len.get() as usize)?)
}

impl<'a> Bundle<'a> {
    /// Checks `bytes` and returns a view of them.
    pub fn new(bytes: &'a [u8]) -> Result<Self, BundleError> {
        let (header, rest) =
            BundleHeader::ref_from_prefix(bytes).map_err(|_| BundleError::TooShort)?;
        if header.magic != MAGIC {
            return Err(BundleError::BadMagic);
        }
        if header.version.get() != VERSION {
            return Err(BundleError::UnsupportedVersion(header.version.get()));
        }
        let (entries, _) =
            <[FileEntry]>::ref_from_prefix_with_elems(rest, header.file_count.get() as usize)
                .map_err(|_| BundleError::TooShort)?;
        for e in entries {
            let name = span_bytes(bytes, e.name).ok_or(BundleError::BadSpan)?;
            core::str::from_utf8(name).map_err(|_| BundleError::BadSpan)?;
            span_bytes(bytes, e.data).ok_or(BundleError::BadSpan)?;
        }
        let spec_bytes = span_bytes(bytes, header.spec).ok_or(BundleError::BadSpan)?;
        let spec = SpecView::new(spec_bytes).map_err(BundleError::Spec)?;
        Ok(Self {
            bytes,
            entries,
            spec,
        })
    }

    /// Every file: (name, contents).
    pub fn files(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let bytes = self.bytes;
        self.entries.iter().map(move |e| {
            let name = span_bytes(bytes, e.name).unwrap_or(&[]);
            (
                core::str::from_utf8(name).unwrap_or(""),
                span_bytes(bytes, e.data).unwrap_or(&[]),
            )
        })
    }

    /// The file called `name`.
    pub fn file(&self, name: &str) -> Option<&'a [u8]> {
        self.files().find(|(n, _)| *n == name).map(|(_, d)| d)
    }
}

/// Packs a compact spec and named files into a bundle.
#[cfg(feature = "std")]
pub fn pack(spec: &[u8], files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, String> {
    let header_len = core::mem::size_of::<BundleHeader>();
    let table_len = files.len() * core::mem::size_of::<FileEntry>();
    let mut out = vec![0u8; header_len + table_len];
    let span = |offset: usize, len: usize| -> Result<Span, String> {
        let ok = |v: usize| u32::try_from(v).map_err(|_| "the system bundle exceeds 4 GiB");
        Ok(Span {
            offset: U32::new(ok(offset)?),
            len: U32::new(ok(len)?),
        })
    };
    let spec_span = span(out.len(), spec.len())?;
    out.extend_from_slice(spec);
    let mut entries = Vec::with_capacity(files.len());
    for (name, data) in files {
        let name_span = span(out.len(), name.len())?;
        out.extend_from_slice(name.as_bytes());
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let data_span = span(out.len(), data.len())?;
        out.extend_from_slice(data);
        entries.push(FileEntry {
            name: name_span,
            data: data_span,
        });
    }
    let header = BundleHeader {
        magic: MAGIC,
        version: U32::new(VERSION),
        file_count: U32::new(u32::try_from(files.len()).map_err(|_| "too many files")?),
        spec: spec_span,
    };
    out[..header_len].copy_from_slice(header.as_bytes());
    out[header_len..header_len + table_len].copy_from_slice(entries.as_bytes());
    Ok(out)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn pack_then_read_back() {
        let spec =
            crate::encode(&crate::parse("t.cdl", "arch aarch64 objects { e = ep }").unwrap())
                .unwrap();
        let files = vec![
            ("a.elf".to_string(), vec![1, 2, 3]),
            ("bee".to_string(), vec![9; 100]),
        ];
        let bytes = pack(&spec, &files).unwrap();
        let b = Bundle::new(&bytes).unwrap();
        assert_eq!(b.spec.object_count(), 1);
        assert_eq!(b.file("a.elf"), Some(&[1u8, 2, 3][..]));
        assert_eq!(b.file("bee").map(<[u8]>::len), Some(100));
        assert_eq!(b.file("nope"), None);
        assert_eq!(b.files().count(), 2);
    }

    #[test]
    fn rejects_damage() {
        let spec =
            crate::encode(&crate::parse("t.cdl", "arch aarch64 objects { e = ep }").unwrap())
                .unwrap();
        let bytes = pack(&spec, &[("a".to_string(), vec![7; 16])]).unwrap();
        assert_eq!(
            Bundle::new(&bytes[..10]).unwrap_err(),
            BundleError::TooShort
        );
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(Bundle::new(&bad).unwrap_err(), BundleError::BadMagic);
        // Every truncation is an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(Bundle::new(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}

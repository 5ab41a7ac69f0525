//! Client paths: what is accepted and how it is normalised.
//!
//! A path is UTF-8, at most [`MAX_PATH`] bytes, absolute (starts with
//! `/`), and `/`-separated. `/` alone is the root. Every component must be
//! non-empty, so `//` and a trailing `/` are rejected. `.` components are
//! dropped and `..` removes the previous component (lexically: FAT has no
//! links, so this is the same as walking the tree); a `..` above the root is
//! an error, not the root.
//!
//! A name (component) must be something FAT long file names can store and
//! starry-fatfs can handle without trouble:
//! * characters: ASCII letters and digits, space and
//!   `$ % ' - _ @ ~ ` ! ( ) { } . + , ; = [ ] ^ # &`, and any character
//!   from U+0080 to U+FFFE (no characters outside the Basic Multilingual
//!   Plane, no NUL, no `/ \ : * ? " < > |`, no control characters);
//! * the first character must be ASCII (starry-fatfs cuts the first byte
//!   off when it makes the short 8.3 alias and would fail on a multi-byte
//!   first character);
//! * no leading space, and no trailing space or dot (other systems strip
//!   them, so such names would not survive a round trip);
//! * at most 255 UTF-16 code units (FAT's long name limit; the path limit
//!   makes this hold anyway).
//!
//! Names compare case-insensitively, as FAT does (`/README` and `/readme`
//! are the same file); the server reports names as they are stored.

use alloc::string::String;
use alloc::vec::Vec;

use crate::FsError;

/// The longest path accepted, in bytes of UTF-8.
pub const MAX_PATH: usize = 255;

/// The longest name FAT can store, in UTF-16 code units.
pub const MAX_NAME_UNITS: usize = 255;

/// Turns raw path bytes from a client into a `&str`.
///
/// # Errors
/// [`FsError::PathTooLong`] over [`MAX_PATH`] bytes (checked first),
/// [`FsError::InvalidName`] if the bytes are not UTF-8.
pub fn path_from_bytes(bytes: &[u8]) -> Result<&str, FsError> {
    if bytes.len() > MAX_PATH {
        return Err(FsError::PathTooLong);
    }
    core::str::from_utf8(bytes).map_err(|_| FsError::InvalidName)
}

/// Splits and normalises `path` into its components (empty for the root).
///
/// # Errors
/// [`FsError::PathTooLong`], or [`FsError::InvalidName`] for anything the
/// module doc does not accept.
pub fn parse_path(path: &str) -> Result<Vec<String>, FsError> {
    if path.len() > MAX_PATH {
        return Err(FsError::PathTooLong);
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(FsError::InvalidName);
    };
    let mut out: Vec<String> = Vec::new();
    if rest.is_empty() {
        return Ok(out);
    }
    for comp in rest.split('/') {
        match comp {
            "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(FsError::InvalidName);
                }
            }
            name => {
                validate_name(name)?;
                out.push(String::from(name));
            }
        }
    }
    Ok(out)
}

/// Whether `c` may appear in a stored name.
fn allowed_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || " $%'-_@~`!(){}.+,;=[]^#&".contains(c)
        || ('\u{80}'..='\u{FFFE}').contains(&c)
}

/// Checks one component against the rules of the module doc.
///
/// # Errors
/// [`FsError::InvalidName`].
pub fn validate_name(name: &str) -> Result<(), FsError> {
    let Some(first) = name.chars().next() else {
        return Err(FsError::InvalidName);
    };
    if !first.is_ascii() || first == ' ' {
        return Err(FsError::InvalidName);
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err(FsError::InvalidName);
    }
    if !name.chars().all(allowed_char) {
        return Err(FsError::InvalidName);
    }
    if name.encode_utf16().count() > MAX_NAME_UNITS {
        return Err(FsError::InvalidName);
    }
    Ok(())
}

/// Case-insensitive name comparison, the way FAT compares names.
#[must_use]
pub fn same_name(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_uppercase)
        .eq(b.chars().flat_map(char::to_uppercase))
}

/// Whether `path` starts with all of `prefix` (component-wise, ignoring
/// case).
#[must_use]
pub fn has_prefix(path: &[String], prefix: &[String]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| same_name(a, b))
}

/// Whether two paths name the same thing (ignoring case).
#[must_use]
pub fn same_path(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && has_prefix(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn p(s: &str) -> Result<Vec<String>, FsError> {
        parse_path(s)
    }

    #[test]
    fn accepted() {
        assert_eq!(p("/").unwrap(), Vec::<String>::new());
        assert_eq!(p("/a/b.txt").unwrap(), vec!["a", "b.txt"]);
        assert_eq!(p("/a/./b/../c").unwrap(), vec!["a", "c"]);
        assert_eq!(p("/x/..").unwrap(), Vec::<String>::new());
        assert_eq!(p("/Über 2.txt").unwrap_err(), FsError::InvalidName);
        assert_eq!(p("/a Über.txt").unwrap(), vec!["a Über.txt"]);
        assert_eq!(p("/.hidden").unwrap(), vec![".hidden"]);
    }

    #[test]
    fn rejected() {
        for bad in [
            "",
            "a",
            "//",
            "/a/",
            "/a//b",
            "/..",
            "/a/../..",
            "/a\0b",
            "/a:b",
            "/a*",
            "/a?",
            "/a\\b",
            "/a.",
            "/a ",
            "/ a",
            "/...",
            "/\u{1F600}",
            "/a\u{FFFF}",
            "/\u{7}",
        ] {
            assert_eq!(p(bad), Err(FsError::InvalidName), "{bad:?}");
        }
        let long = alloc::format!("/{}", "x".repeat(MAX_PATH));
        assert_eq!(p(&long), Err(FsError::PathTooLong));
        let ok = alloc::format!("/{}", "x".repeat(MAX_PATH - 1));
        assert!(p(&ok).is_ok());
        assert_eq!(path_from_bytes(&[b'/', 0xFF]), Err(FsError::InvalidName));
        assert_eq!(path_from_bytes(&[b'/'; 300]), Err(FsError::PathTooLong));
    }

    #[test]
    fn case_insensitive() {
        assert!(same_name("ReadMe.TXT", "readme.txt"));
        assert!(same_name("straße", "STRASSE"));
        assert!(!same_name("a", "b"));
    }
}

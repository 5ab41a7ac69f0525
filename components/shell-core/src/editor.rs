//! The line editor: the shell feeds it each byte the console returns and
//! prints what it says to echo; on Enter it hands back the line.
//!
//! | byte | effect | echo |
//! |---|---|---|
//! | printable ASCII (0x20..=0x7e) | appended, up to [`MAX_LINE`] bytes | the byte; BEL (0x07) when the line is full |
//! | CR (0x0d) or LF (0x0a) | the line is finished; an LF right after a CR is the same Enter | a newline |
//! | Backspace (0x7f or 0x08) | the last byte is removed | `"\b \b"`; nothing at an empty line |
//! | Ctrl-U (0x15) | the whole line is removed | `"\b \b"` once per byte |
//! | any other byte | ignored | nothing |

/// Most bytes of a line.
pub const MAX_LINE: usize = 128;

const BEL: u8 = 0x07;
const BACKSPACE: u8 = 0x08;
const DELETE: u8 = 0x7f;
const CTRL_U: u8 = 0x15;
const CR: u8 = b'\r';
const LF: u8 = b'\n';
/// What erases one character on a terminal: back, blank, back.
const RUB_OUT: &[u8] = b"\x08 \x08";

/// What the terminal should show after one byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Echo {
    /// Nothing.
    Nothing,
    /// The byte typed.
    Byte(u8),
    /// The bell: the line is full.
    Bell,
    /// Erase this many characters before the cursor (`"\b \b"` each).
    Erase(usize),
    /// End the line on screen.
    Newline,
}

impl Echo {
    /// The bytes to print, in order.
    pub fn bytes(self) -> impl Iterator<Item = u8> {
        let (one, erase): (&[u8], usize) = match self {
            Echo::Nothing => (&[], 0),
            Echo::Byte(_) => (&[], 0),
            Echo::Bell => (&[BEL], 0),
            Echo::Erase(n) => (&[], n),
            Echo::Newline => (&[LF], 0),
        };
        let typed = match self {
            Echo::Byte(b) => Some(b),
            _ => None,
        };
        typed
            .into_iter()
            .chain(one.iter().copied())
            .chain(RUB_OUT.iter().copied().cycle().take(erase * RUB_OUT.len()))
    }
}

/// The answer to one byte: what to echo and, on Enter, the finished line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fed<'a> {
    /// What to print.
    pub echo: Echo,
    /// The line, when this byte was Enter (without the line end; only
    /// printable ASCII, so always UTF-8).
    pub line: Option<&'a str>,
}

/// A line being typed.
#[derive(Clone, Debug)]
pub struct LineEditor {
    bytes: [u8; MAX_LINE],
    len: usize,
    /// The last byte was the CR of an Enter (a following LF is dropped).
    after_cr: bool,
    /// The last byte finished a line: the next one starts a new line.
    finished: bool,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            bytes: [0; MAX_LINE],
            len: 0,
            after_cr: false,
            finished: false,
        }
    }

    /// The bytes typed so far on the current line.
    pub fn current(&self) -> &str {
        if self.finished {
            return "";
        }
        // Only printable ASCII is ever stored.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    /// Forgets the current line (nothing is echoed).
    pub fn clear(&mut self) {
        self.len = 0;
        self.after_cr = false;
        self.finished = false;
    }

    /// Takes one typed byte.
    pub fn feed(&mut self, byte: u8) -> Fed<'_> {
        if self.finished {
            self.len = 0;
            self.finished = false;
        }
        let after_cr = core::mem::replace(&mut self.after_cr, false);
        let echo = match byte {
            LF if after_cr => Echo::Nothing,
            CR | LF => {
                self.after_cr = byte == CR;
                self.finished = true;
                let line = core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("");
                return Fed {
                    echo: Echo::Newline,
                    line: Some(line),
                };
            }
            BACKSPACE | DELETE if self.len == 0 => Echo::Nothing,
            BACKSPACE | DELETE => {
                self.len -= 1;
                Echo::Erase(1)
            }
            CTRL_U => Echo::Erase(core::mem::take(&mut self.len)),
            0x20..=0x7e if self.len == MAX_LINE => Echo::Bell,
            0x20..=0x7e => {
                self.bytes[self.len] = byte;
                self.len += 1;
                Echo::Byte(byte)
            }
            _ => Echo::Nothing,
        };
        Fed { echo, line: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input`; everything echoed and every line finished.
    fn type_in(
        ed: &mut LineEditor,
        input: &[u8],
    ) -> ([u8; 1024], usize, [[u8; MAX_LINE]; 4], [usize; 4], usize) {
        let mut echo = [0u8; 1024];
        let mut n = 0;
        let mut lines = [[0u8; MAX_LINE]; 4];
        let mut lens = [0usize; 4];
        let mut count = 0;
        for &b in input {
            let fed = ed.feed(b);
            for e in fed.echo.bytes() {
                echo[n] = e;
                n += 1;
            }
            if let Some(line) = fed.line {
                lines[count][..line.len()].copy_from_slice(line.as_bytes());
                lens[count] = line.len();
                count += 1;
            }
        }
        (echo, n, lines, lens, count)
    }

    fn echoed(input: &[u8]) -> ([u8; 1024], usize) {
        let (e, n, ..) = type_in(&mut LineEditor::new(), input);
        (e, n)
    }

    #[test]
    fn printable_bytes_are_echoed_and_returned_on_enter() {
        let mut ed = LineEditor::new();
        assert_eq!(ed.feed(b'l').echo, Echo::Byte(b'l'));
        assert_eq!(ed.feed(b's').echo, Echo::Byte(b's'));
        assert_eq!(ed.current(), "ls");
        let fed = ed.feed(b'\r');
        assert_eq!(fed.echo, Echo::Newline);
        assert_eq!(fed.line, Some("ls"));
        assert_eq!(ed.current(), "");
        // The next line starts empty.
        ed.feed(b'x');
        assert_eq!(ed.feed(b'\n').line, Some("x"));
    }

    #[test]
    fn backspace_at_an_empty_line_does_nothing() {
        let mut ed = LineEditor::new();
        assert_eq!(ed.feed(0x7f).echo, Echo::Nothing);
        assert_eq!(ed.feed(0x08).echo, Echo::Nothing);
        assert_eq!(ed.feed(b'\r').line, Some(""));
        let (e, n) = echoed(b"\x7f\x08");
        assert_eq!(&e[..n], b"");
    }

    #[test]
    fn backspace_removes_the_last_byte() {
        let mut ed = LineEditor::new();
        let (e, n, lines, lens, count) = type_in(&mut ed, b"cax\x7ft\x08\x08at\r");
        assert_eq!(count, 1);
        assert_eq!(&lines[0][..lens[0]], b"cat");
        assert_eq!(&e[..n], b"cax\x08 \x08t\x08 \x08\x08 \x08at\n");
        assert!(Echo::Erase(1).bytes().eq(*b"\x08 \x08"));
    }

    #[test]
    fn ctrl_u_erases_the_whole_line() {
        let mut ed = LineEditor::new();
        let (e, n, ..) = type_in(&mut ed, b"abc\x15");
        assert_eq!(&e[..n], b"abc\x08 \x08\x08 \x08\x08 \x08");
        assert_eq!(ed.current(), "");
        assert_eq!(ed.feed(0x15).echo, Echo::Erase(0));
        assert_eq!(Echo::Erase(0).bytes().count(), 0);
        ed.feed(b'p');
        ed.feed(b's');
        assert_eq!(ed.feed(b'\r').line, Some("ps"));
    }

    #[test]
    fn a_full_line_refuses_more_with_a_bell() {
        let mut ed = LineEditor::new();
        for _ in 0..MAX_LINE {
            assert_eq!(ed.feed(b'a').echo, Echo::Byte(b'a'));
        }
        assert_eq!(ed.feed(b'b').echo, Echo::Bell);
        assert!(Echo::Bell.bytes().eq([0x07]));
        assert_eq!(ed.current().len(), MAX_LINE);
        // Room again after a backspace.
        assert_eq!(ed.feed(0x7f).echo, Echo::Erase(1));
        assert_eq!(ed.feed(b'c').echo, Echo::Byte(b'c'));
        let line = ed.feed(b'\n').line.unwrap();
        assert_eq!(line.len(), MAX_LINE);
        assert!(line.ends_with("ac"));
    }

    #[test]
    fn cr_lf_is_one_enter() {
        let mut ed = LineEditor::new();
        let (e, n, lines, lens, count) = type_in(&mut ed, b"ls\r\nps\r\n");
        assert_eq!(count, 2);
        assert_eq!(&lines[0][..lens[0]], b"ls");
        assert_eq!(&lines[1][..lens[1]], b"ps");
        assert_eq!(&e[..n], b"ls\nps\n");
        // Two CRs are two Enters, and so are two LFs or an LF CR.
        let (_, _, _, lens, count) = type_in(&mut LineEditor::new(), b"\r\r\n\n\r");
        assert_eq!(count, 4);
        assert_eq!(lens, [0; 4]);
    }

    #[test]
    fn an_lf_after_cr_is_dropped_only_right_after_it() {
        let mut ed = LineEditor::new();
        assert_eq!(ed.feed(b'\r').line, Some(""));
        assert_eq!(ed.feed(b'a').echo, Echo::Byte(b'a'));
        assert_eq!(ed.feed(b'\n').line, Some("a"));
    }

    #[test]
    fn other_control_bytes_are_ignored() {
        let mut ed = LineEditor::new();
        for b in [0x00, 0x01, 0x03, 0x09, 0x1b, 0x1f, 0x80, 0xc3, 0xff] {
            assert_eq!(ed.feed(b).echo, Echo::Nothing, "{b:#x}");
        }
        assert_eq!(ed.current(), "");
        let (_, _, lines, lens, count) = type_in(&mut ed, b"l\x1b[Ds\r");
        assert_eq!(count, 1);
        // The escape byte is dropped; the printable rest of the sequence stays.
        assert_eq!(&lines[0][..lens[0]], b"l[Ds");
    }

    #[test]
    fn clear_forgets_the_line() {
        let mut ed = LineEditor::new();
        ed.feed(b'a');
        ed.clear();
        assert_eq!(ed.feed(b'\r').line, Some(""));
    }
}

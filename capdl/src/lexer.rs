//! The capDL lexer: identifiers, numbers, punctuation, and comments (`--` to
//! the end of the line, nested `/* */`), with the line and column of each
//! token. The lexical rules are capDL-tool's (Parsec's token parser with
//! capDL's language definition): identifiers start with a letter and go on
//! with letters, digits, `-`, `_`, `@` and `.`; numbers are decimal, `0x`
//! hexadecimal or `0o` octal.

use crate::model::Origin;

/// A position in the text: byte offset plus line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Byte offset.
    pub offset: usize,
    /// 1-based line.
    pub line: u32,
    /// 1-based column in characters.
    pub column: u32,
}

impl Cursor {
    /// The start of a text.
    pub fn start() -> Self {
        Self {
            offset: 0,
            line: 1,
            column: 1,
        }
    }
    /// As a model origin.
    pub fn origin(self) -> Origin {
        Origin {
            line: self.line,
            column: self.column,
        }
    }
}

/// One token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A name or keyword.
    Ident(String),
    /// A number.
    Number(u64),
    /// One of `{ } ( ) [ ] , ; : = / < > -`.
    Punct(char),
    /// `..`.
    DotDot,
    /// End of the text.
    Eof,
}

impl Token {
    /// How an error message shows it.
    pub fn describe(&self) -> String {
        match self {
            Token::Ident(s) => format!("'{s}'"),
            Token::Number(n) => format!("number {n}"),
            Token::Punct(c) => format!("'{c}'"),
            Token::DotDot => "'..'".to_string(),
            Token::Eof => "end of file".to_string(),
        }
    }
}

/// A lexical error: where, and the message.
#[derive(Clone, Debug)]
pub struct LexError {
    /// Where.
    pub at: Cursor,
    /// What.
    pub message: String,
}

/// Reads tokens out of a text on demand.
pub struct Lexer<'a> {
    text: &'a str,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '@' | '.')
}

impl<'a> Lexer<'a> {
    /// A lexer over `text`.
    pub fn new(text: &'a str) -> Self {
        Self { text }
    }

    fn char_at(&self, at: Cursor) -> Option<char> {
        self.text.get(at.offset..).and_then(|s| s.chars().next())
    }

    fn advance(&self, at: Cursor, c: char) -> Cursor {
        if c == '\n' {
            Cursor {
                offset: at.offset + 1,
                line: at.line.saturating_add(1),
                column: 1,
            }
        } else {
            Cursor {
                offset: at.offset + c.len_utf8(),
                line: at.line,
                column: at.column.saturating_add(1),
            }
        }
    }

    fn starts_with(&self, at: Cursor, s: &str) -> bool {
        self.text
            .get(at.offset..)
            .is_some_and(|rest| rest.starts_with(s))
    }

    /// Skips whitespace and comments from `at`.
    pub fn skip_blank(&self, mut at: Cursor) -> Result<Cursor, LexError> {
        loop {
            match self.char_at(at) {
                Some(c) if c.is_whitespace() => at = self.advance(at, c),
                Some('-') if self.starts_with(at, "--") => {
                    while let Some(c) = self.char_at(at) {
                        if c == '\n' {
                            break;
                        }
                        at = self.advance(at, c);
                    }
                }
                Some('/') if self.starts_with(at, "/*") => {
                    let open = at;
                    let mut depth = 0u32;
                    loop {
                        if self.starts_with(at, "/*") {
                            depth += 1;
                            at = self.advance(self.advance(at, '/'), '*');
                        } else if self.starts_with(at, "*/") {
                            depth -= 1;
                            at = self.advance(self.advance(at, '*'), '/');
                            if depth == 0 {
                                break;
                            }
                        } else if let Some(c) = self.char_at(at) {
                            at = self.advance(at, c);
                        } else {
                            return Err(LexError {
                                at: open,
                                message: "comment opened here is never closed (expected '*/')"
                                    .to_string(),
                            });
                        }
                    }
                }
                _ => return Ok(at),
            }
        }
    }

    /// The token starting at or after `at`: (token, its start, its end).
    pub fn token(&self, at: Cursor) -> Result<(Token, Cursor, Cursor), LexError> {
        let start = self.skip_blank(at)?;
        let Some(c) = self.char_at(start) else {
            return Ok((Token::Eof, start, start));
        };
        let mut end = self.advance(start, c);
        if is_ident_start(c) {
            while let Some(n) = self.char_at(end).filter(|&n| is_ident_continue(n)) {
                end = self.advance(end, n);
            }
            let word = self.text[start.offset..end.offset].to_string();
            return Ok((Token::Ident(word), start, end));
        }
        if c.is_ascii_digit() {
            let (radix, digits_start) = match self.char_at(end) {
                Some('x' | 'X') if c == '0' => (16, self.advance(end, 'x')),
                Some('o' | 'O') if c == '0' => (8, self.advance(end, 'o')),
                _ => (10, start),
            };
            let mut digits_end = digits_start;
            while let Some(n) = self.char_at(digits_end).filter(|n| n.is_digit(radix)) {
                digits_end = self.advance(digits_end, n);
            }
            if digits_end == digits_start {
                return Err(LexError {
                    at: digits_start,
                    message: format!(
                        "expected a {} digit after '{}'",
                        if radix == 16 { "hexadecimal" } else { "octal" },
                        &self.text[start.offset..digits_start.offset]
                    ),
                });
            }
            let digits = &self.text[digits_start.offset..digits_end.offset];
            return match u64::from_str_radix(digits, radix) {
                Ok(n) => Ok((Token::Number(n), start, digits_end)),
                Err(_) => Err(LexError {
                    at: start,
                    message: format!(
                        "number '{}' does not fit in 64 bits",
                        &self.text[start.offset..digits_end.offset]
                    ),
                }),
            };
        }
        if c == '.' && self.char_at(end) == Some('.') {
            return Ok((Token::DotDot, start, self.advance(end, '.')));
        }
        if "{}()[],;:=/<>-".contains(c) {
            return Ok((Token::Punct(c), start, end));
        }
        Err(LexError {
            at: start,
            message: format!("unexpected character {c:?}"),
        })
    }

    /// Reads the words of one fill entry after its `{`, up to and including
    /// the closing `}`: words are runs of characters other than whitespace
    /// and `}` (capDL-tool's fill syntax).
    pub fn fill_words(&self, mut at: Cursor) -> Result<(Vec<String>, Cursor), LexError> {
        let mut words = Vec::new();
        loop {
            at = self.skip_blank(at)?;
            match self.char_at(at) {
                None => {
                    return Err(LexError {
                        at,
                        message: "expected '}' to close the fill entry, found end of file"
                            .to_string(),
                    })
                }
                Some('}') => return Ok((words, self.advance(at, '}'))),
                Some(_) => {
                    let start = at;
                    while let Some(c) = self.char_at(at).filter(|c| !c.is_whitespace() && *c != '}')
                    {
                        at = self.advance(at, c);
                    }
                    words.push(self.text[start.offset..at.offset].to_string());
                }
            }
        }
    }
}

//! The `csv` crate reads malformed quoting leniently: an unterminated quote swallows the rest of
//! the file into one value, and text after a closing quote is glued onto the value. Both would
//! register wrong data, so [`QuoteTracker`] follows the bytes on their way into the parser with the
//! same state machine (RFC 4180: `,` between fields, `"` quoting with `""` escapes, CR, LF or CRLF
//! ending records, blank lines skipped) and reports them. Counting lines itself, it also gives
//! each record its physical first line, which the parser loses when it skips blank lines.

use std::collections::VecDeque;
use std::io::{self, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuoteProblemKind {
    /// A quoted value whose closing quote never comes.
    Unterminated,
    /// Text between a closing quote and the end of its field.
    TextAfterClosingQuote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QuoteProblem {
    pub kind: QuoteProblemKind,
    /// 0-based index of the record that holds the problem, blank lines not counted.
    pub record: u64,
    /// The 1-based line of the opening quote (unterminated) or of the stray text.
    pub line: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    RecordStart,
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

pub(crate) struct QuoteTracker<R> {
    inner: R,
    state: State,
    line: u64,
    after_cr: bool,
    quote_opened_on: u64,
    records_started: u64,
    /// First lines of the records the parser has not handed out yet (bounded by its buffer).
    record_lines: VecDeque<u64>,
    problem: Option<QuoteProblem>,
}

impl<R: Read> QuoteTracker<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            state: State::RecordStart,
            line: 1,
            after_cr: false,
            quote_opened_on: 0,
            records_started: 0,
            record_lines: VecDeque::new(),
            problem: None,
        }
    }

    /// The first line of the oldest record not taken yet; call once per record the parser yields.
    pub(crate) fn take_record_line(&mut self) -> Option<u64> {
        self.record_lines.pop_front()
    }

    /// The first quoting problem seen so far.
    pub(crate) fn problem(&self) -> Option<QuoteProblem> {
        self.problem
    }

    fn scan(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.state = match self.state {
                State::RecordStart if is_terminator(byte) => State::RecordStart,
                State::RecordStart => {
                    self.record_lines.push_back(self.line);
                    self.records_started += 1;
                    self.at_field_start(byte)
                }
                State::FieldStart => self.at_field_start(byte),
                State::Unquoted => after_unquoted_byte(byte),
                State::Quoted if byte == b'"' => State::QuoteInQuoted,
                State::Quoted => State::Quoted,
                State::QuoteInQuoted => match byte {
                    b'"' => State::Quoted,
                    b',' => State::FieldStart,
                    _ if is_terminator(byte) => State::RecordStart,
                    _ => {
                        self.report(QuoteProblemKind::TextAfterClosingQuote, self.line);
                        State::Unquoted
                    }
                },
            };
            self.count_line(byte);
        }
    }

    fn at_field_start(&mut self, byte: u8) -> State {
        if byte == b'"' {
            self.quote_opened_on = self.line;
            State::Quoted
        } else {
            after_unquoted_byte(byte)
        }
    }

    /// CR, LF and CRLF each end one line.
    fn count_line(&mut self, byte: u8) {
        if byte == b'\r' || (byte == b'\n' && !self.after_cr) {
            self.line += 1;
        }
        self.after_cr = byte == b'\r';
    }

    fn finish(&mut self) {
        if self.state == State::Quoted {
            self.report(QuoteProblemKind::Unterminated, self.quote_opened_on);
        }
    }

    fn report(&mut self, kind: QuoteProblemKind, line: u64) {
        if self.problem.is_none() {
            self.problem = Some(QuoteProblem { kind, record: self.records_started - 1, line });
        }
    }
}

fn after_unquoted_byte(byte: u8) -> State {
    match byte {
        b',' => State::FieldStart,
        _ if is_terminator(byte) => State::RecordStart,
        _ => State::Unquoted,
    }
}

fn is_terminator(byte: u8) -> bool {
    byte == b'\r' || byte == b'\n'
}

impl<R: Read> Read for QuoteTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        if read == 0 {
            self.finish();
        } else {
            self.scan(&buf[..read]);
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::{QuoteProblem, QuoteProblemKind, QuoteTracker};
    use std::io::Read;

    /// Feeds `input` through the tracker in chunks of `chunk` bytes, as a parser's buffer would.
    fn track(input: &[u8], chunk: usize) -> QuoteTracker<&[u8]> {
        let mut tracker = QuoteTracker::new(input);
        let mut buf = vec![0; chunk];
        while tracker.read(&mut buf).unwrap() > 0 {}
        tracker
    }

    fn record_lines(tracker: &mut QuoteTracker<&[u8]>) -> Vec<u64> {
        std::iter::from_fn(|| tracker.take_record_line()).collect()
    }

    #[test]
    fn records_start_on_their_physical_lines() {
        let input = b"h1,h2\n\na,\"multi\nline\"\r\n\r\n\rb,c\n  \nlast";
        for chunk in [1, 3, 64] {
            let mut tracker = track(input, chunk);
            assert_eq!(record_lines(&mut tracker), [1, 3, 7, 8, 9], "chunk {chunk}");
            assert_eq!(tracker.problem(), None);
        }
    }

    #[test]
    fn escaped_quotes_and_quoted_separators_are_well_formed() {
        let tracker = track(b"\"a \"\"b\"\", c\",\"\"\n\"\"\"\"", 4);
        assert_eq!(tracker.problem(), None);
    }

    #[test]
    fn a_quote_inside_an_unquoted_value_is_literal() {
        let tracker = track(b"5\" screen,x\n", 4);
        assert_eq!(tracker.problem(), None);
    }

    #[test]
    fn reports_an_unterminated_quote_at_its_opening_line() {
        let tracker = track(b"h\nok\n\n\"open,\nmore\nrows\n", 5);
        let problem = QuoteProblem { kind: QuoteProblemKind::Unterminated, record: 2, line: 4 };
        assert_eq!(tracker.problem(), Some(problem));
    }

    #[test]
    fn reports_text_after_a_closing_quote() {
        let tracker = track(b"h\n\"Hong\" Gildong,x\n\"a\"b\n", 2);
        let problem = QuoteProblem { kind: QuoteProblemKind::TextAfterClosingQuote, record: 1, line: 2 };
        assert_eq!(tracker.problem(), Some(problem));
    }

    #[test]
    fn a_closing_quote_at_the_end_of_input_is_well_formed() {
        assert_eq!(track(b"h\n\"done\"", 3).problem(), None);
    }
}

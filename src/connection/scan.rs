//! The limits on a reply, checked on its bytes as they arrive, before redis-rs's parser builds
//! anything from them: a byte budget per command and a cap on the elements of one reply.
//!
//! redis-rs's parser allocates as it goes: a server that announces a huge array of integers costs
//! far more memory than its bytes (every element is a `redis::Value`), and an endless bulk string
//! is buffered whole. [`ReplyScanner`] follows the RESP framing of the bytes flowing by (RESP2,
//! and RESP3's types for a server that sends them anyway) just far enough to count what each
//! reply announces, so the parser never sees a reply beyond the limits.

/// The most elements one reply may announce, all its arrays, maps and sets together. The
/// largest reply rustredis reads has three.
pub const MAX_REPLY_ELEMENTS: u64 = 1024;

/// A reply announced more than [`MAX_REPLY_ELEMENTS`] elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyElements;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a value's type byte.
    Type,
    /// In a value that is one line (simple string, error, integer, double, …).
    Line,
    /// In the length line of a bulk string or an aggregate.
    Length {
        aggregate: Option<Aggregate>,
        value: u64,
        negative: bool,
    },
    /// In a bulk string's payload and its CRLF: this many bytes left.
    Payload(u64),
    /// Not RESP: the parser reports it; nothing more is counted.
    Garbage,
}

/// What an aggregate's length counts: values per element, plus values that follow anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Aggregate {
    per_element: u64,
    extra: u64,
}

const ARRAY: Aggregate = Aggregate {
    per_element: 1,
    extra: 0,
};
const MAP: Aggregate = Aggregate {
    per_element: 2,
    extra: 0,
};
/// An attribute (`|`): its pairs, then the value it annotates.
const ATTRIBUTE: Aggregate = Aggregate {
    per_element: 2,
    extra: 1,
};

/// Follows the replies on one connection (see the module documentation).
#[derive(Debug)]
pub struct ReplyScanner {
    state: State,
    /// Values still to come in the reply being read; its top-level value is the first.
    pending: u64,
    /// Elements the reply being read announced so far.
    elements: u64,
    /// Replies that ended (`feed_reply` compares it to see its reply end).
    replies: u64,
}

impl Default for ReplyScanner {
    fn default() -> Self {
        ReplyScanner {
            state: State::Type,
            pending: 1,
            elements: 0,
            replies: 0,
        }
    }
}

impl ReplyScanner {
    /// Follows `bytes`, the next ones the server sent, reply after reply.
    #[cfg(test)]
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), TooManyElements> {
        while !bytes.is_empty() {
            let (used, _) = self.feed_reply(bytes)?;
            bytes = &bytes[used..];
        }
        Ok(())
    }

    /// Follows `bytes`, the next ones the server sent, up to the end of the reply they are in:
    /// how many of them belong to it, and whether it ended there.
    pub fn feed_reply(&mut self, all: &[u8]) -> Result<(usize, bool), TooManyElements> {
        let before = self.replies;
        let ended = |scanner: &Self| scanner.replies > before;
        let mut bytes = all;
        while let Some((&byte, rest)) = bytes.split_first() {
            if ended(self) {
                break;
            }
            match self.state {
                State::Garbage => return Ok((all.len(), false)),
                State::Payload(left) => {
                    let taken = bytes.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    bytes = &bytes[taken..];
                    self.state = State::Payload(left - taken as u64);
                    if left == taken as u64 {
                        self.value_done();
                    }
                    continue;
                }
                State::Line => match bytes.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        bytes = &bytes[end + 1..];
                        self.value_done();
                        continue;
                    }
                    None => return Ok((all.len(), false)),
                },
                State::Type => {
                    self.state = match byte {
                        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => State::Line,
                        b'$' | b'!' | b'=' => Self::length(None),
                        b'*' | b'~' | b'>' => Self::length(Some(ARRAY)),
                        b'%' => Self::length(Some(MAP)),
                        b'|' => Self::length(Some(ATTRIBUTE)),
                        _ => State::Garbage,
                    };
                }
                State::Length {
                    aggregate,
                    value,
                    negative,
                } => match byte {
                    b'0'..=b'9' => {
                        let value = value
                            .saturating_mul(10)
                            .saturating_add(u64::from(byte - b'0'));
                        self.state = State::Length {
                            aggregate,
                            value,
                            negative,
                        };
                    }
                    b'-' => {
                        self.state = State::Length {
                            aggregate,
                            value,
                            negative: true,
                        }
                    }
                    b'\r' => {}
                    b'\n' => self.length_done(aggregate, value, negative)?,
                    _ => self.state = State::Garbage,
                },
            }
            bytes = rest;
        }
        Ok((all.len() - bytes.len(), ended(self)))
    }

    fn length(aggregate: Option<Aggregate>) -> State {
        State::Length {
            aggregate,
            value: 0,
            negative: false,
        }
    }

    fn length_done(
        &mut self,
        aggregate: Option<Aggregate>,
        value: u64,
        negative: bool,
    ) -> Result<(), TooManyElements> {
        match aggregate {
            // A nil (`$-1`, `*-1`).
            _ if negative => self.value_done(),
            None => self.state = State::Payload(value.saturating_add(2)),
            Some(Aggregate { per_element, extra }) => {
                let values = value.saturating_mul(per_element).saturating_add(extra);
                self.elements = self.elements.saturating_add(values);
                if self.elements > MAX_REPLY_ELEMENTS {
                    return Err(TooManyElements);
                }
                // This value is the aggregate; its elements follow.
                self.pending += values;
                self.value_done();
            }
        }
        Ok(())
    }

    /// A value ended; so does the reply when it was the last one pending.
    fn value_done(&mut self) {
        self.state = State::Type;
        self.pending -= 1;
        if self.pending == 0 {
            *self = ReplyScanner {
                replies: self.replies + 1,
                ..ReplyScanner::default()
            };
        }
    }

    /// How many replies ended in the bytes fed since the last call.
    #[cfg(test)]
    pub fn take_replies(&mut self) -> u64 {
        std::mem::take(&mut self.replies)
    }

    /// Whether the bytes fed so far end inside a reply (or in bytes that are no RESP).
    pub fn mid_reply(&self) -> bool {
        !(self.state == State::Type && self.pending == 1 && self.elements == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ReplyScanner {
        fn between_replies(&self) -> bool {
            !self.mid_reply()
        }
    }

    /// Feeds `bytes` whole and byte by byte; both must agree.
    fn scan(bytes: &[u8]) -> (Result<(), TooManyElements>, bool) {
        let mut whole = ReplyScanner::default();
        let whole_result = whole.feed(bytes);
        let mut single = ReplyScanner::default();
        let single_result = bytes.chunks(1).try_for_each(|byte| single.feed(byte));
        assert_eq!(
            whole_result,
            single_result,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
        if whole_result.is_ok() {
            assert_eq!(whole.between_replies(), single.between_replies());
        }
        (whole_result, whole.between_replies())
    }

    #[test]
    fn every_reply_of_ours_is_followed_to_its_end() {
        for reply in [
            &b"+OK\r\n"[..],
            b"-ERR unknown command\r\n",
            b":-42\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"$0\r\n\r\n",
            b"*0\r\n",
            b"$13\r\nwith\r\n*9999\r\n\r\n",
            b"*2\r\n:0\r\n$5\r\nhello\r\n",
            b"*3\r\n:1\r\n:1500\r\n$11\r\nholder|host\r\n",
            b"*2\r\n*2\r\n:1\r\n:2\r\n*0\r\n",
            // RESP3 types, should a server send them.
            b"_\r\n",
            b",3.14\r\n",
            b"#t\r\n",
            b"(3492890328409238509324850943850943825024385\r\n",
            b"=8\r\ntxt:Some\r\n",
            b"!5\r\nERR x\r\n",
            b"%1\r\n+key\r\n:1\r\n",
            b"~2\r\n:1\r\n:2\r\n",
            b"|1\r\n+ttl\r\n:3600\r\n$3\r\nabc\r\n",
            b">2\r\n+message\r\n:1\r\n",
        ] {
            assert_eq!(
                scan(reply),
                (Ok(()), true),
                "{:?}",
                String::from_utf8_lossy(reply)
            );
            // Not at the end one byte before it.
            assert_eq!(scan(&reply[..reply.len() - 1]), (Ok(()), false));
        }
    }

    #[test]
    fn feeding_a_reply_stops_at_its_end() {
        let mut scanner = ReplyScanner::default();
        let bytes = b"$3\r\nabc\r\n*2\r\n:1\r\n$-1\r\n+OK\r\n";
        let mut ends = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            // Fed in pieces of at most 4 bytes, as they might arrive.
            let piece = &bytes[at..(at + 4).min(bytes.len())];
            let (used, ended) = scanner.feed_reply(piece).unwrap();
            assert!(used > 0 && used <= piece.len());
            at += used;
            if ended {
                ends.push(at);
            }
        }
        assert_eq!(ends, [9, 22, 27]);
        assert!(!scanner.mid_reply());
        // A piece holding the end of one reply and the start of the next: only the first is taken.
        let mut scanner = ReplyScanner::default();
        assert_eq!(scanner.feed_reply(b"$1\r\nx\r\n$5").unwrap(), (7, true));
        assert_eq!(scanner.feed_reply(b"$5").unwrap(), (2, false));
        assert!(scanner.mid_reply());
    }

    #[test]
    fn replies_are_counted_and_a_partial_one_is_seen() {
        let mut scanner = ReplyScanner::default();
        scanner
            .feed(b"$3\r\nabc\r\n*2\r\n:1\r\n$-1\r\n+OK\r\n")
            .unwrap();
        assert_eq!(scanner.take_replies(), 3);
        assert_eq!(scanner.take_replies(), 0);
        assert!(!scanner.mid_reply());
        scanner.feed(b"*2\r\n:1\r\n").unwrap();
        assert!(scanner.mid_reply());
        assert_eq!(scanner.take_replies(), 0);
    }

    #[test]
    fn the_cap_is_per_reply() {
        let reply = b"*3\r\n:1\r\n:2\r\n:3\r\n".repeat(10_000);
        assert_eq!(scan(&reply), (Ok(()), true));
        let mut at_cap = format!("*{MAX_REPLY_ELEMENTS}\r\n").into_bytes();
        at_cap.extend(b":1\r\n".repeat(MAX_REPLY_ELEMENTS as usize));
        assert_eq!(scan(&at_cap), (Ok(()), true));
    }

    #[test]
    fn a_reply_announcing_too_many_elements_stops_at_its_header() {
        let over = MAX_REPLY_ELEMENTS + 1;
        for reply in [
            format!("*{over}\r\n"),
            format!("~{over}\r\n"),
            format!("%{}\r\n", over / 2 + 1),
            "*99999999999999999999999999\r\n".to_string(),
            // Nested: each aggregate is small, all of them together are not.
            format!("*2\r\n*{}\r\n", MAX_REPLY_ELEMENTS - 1),
            format!("*1\r\n*1\r\n*{}\r\n", MAX_REPLY_ELEMENTS - 1),
        ] {
            assert_eq!(scan(reply.as_bytes()).0, Err(TooManyElements), "{reply:?}");
        }
        // 64 MiB of ':1' in one array: found at the first line, before any of them.
        assert_eq!(scan(b"*16777216\r\n:1\r\n:1\r\n").0, Err(TooManyElements));
    }

    #[test]
    fn what_is_not_resp_is_left_to_the_parser() {
        let (result, _) = scan(b"HTTP/1.1 400 Bad Request\r\n*99999\r\n");
        assert_eq!(result, Ok(()));
    }
}

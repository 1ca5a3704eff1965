//! The last lines of a log file, read backwards from the end in chunks: model servers write
//! gigabytes of logs over weeks, and a status call must not read them all.

use std::{
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    path::Path,
};

/// Reading stops after this many bytes even if fewer lines were found (one enormous line).
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;
const CHUNK: u64 = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    pub lines: Vec<String>,
    /// How much of the file was read; for tests and for the curious.
    pub bytes_read: u64,
}

pub fn tail_lines(path: &Path, lines: usize) -> io::Result<Tail> {
    tail_lines_bounded(path, lines, DEFAULT_MAX_BYTES)
}

pub fn tail_lines_bounded(path: &Path, wanted: usize, max_bytes: u64) -> io::Result<Tail> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if wanted == 0 || len == 0 {
        return Ok(Tail { lines: Vec::new(), bytes_read: 0 });
    }

    // `buf` holds the bytes from `start` to the end of the file.
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let step = CHUNK.min(start).min(max_bytes - (len - start));
        if step == 0 {
            break;
        }
        start -= step;
        file.seek(SeekFrom::Start(start))?;
        let mut chunk = vec![0; usize::try_from(step).map_err(io::Error::other)?];
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        // A newline that ends the file ends the last line rather than starting a new one.
        let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if memcount(body, b'\n') >= wanted {
            break;
        }
    }

    let text = String::from_utf8_lossy(&buf);
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let mut lines: Vec<&str> = body.split('\n').collect();
    // Unless we reached the start of the file, the first piece may be the tail of a longer line.
    if start > 0 {
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(wanted);
    Ok(Tail {
        lines: lines[skip..].iter().map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned()).collect(),
        bytes_read: len - start,
    })
}

fn memcount(bytes: &[u8], needle: u8) -> usize {
    bytes.iter().filter(|&&b| b == needle).count()
}

#[cfg(test)]
mod tests {
    use std::io::{BufWriter, Write};

    use super::*;

    fn file_with(contents: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(contents).expect("write");
        f
    }

    #[test]
    fn large_file_returns_last_lines_and_reads_only_the_end() {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        {
            let mut w = BufWriter::new(f.as_file_mut());
            for i in 0..400_000 {
                writeln!(w, "INFO line {i:06} the server is doing something useful").expect("write");
            }
        }
        let size = f.as_file().metadata().expect("meta").len();
        assert!(size > 20_000_000, "the fixture should be big: {size}");

        let tail = tail_lines(f.path(), 5).expect("tail");
        let expected: Vec<String> =
            (399_995..400_000).map(|i| format!("INFO line {i:06} the server is doing something useful")).collect();
        assert_eq!(tail.lines, expected);
        assert!(tail.bytes_read <= CHUNK, "read {} bytes of {size}", tail.bytes_read);
    }

    #[test]
    fn short_file_and_missing_trailing_newline() {
        let f = file_with(b"one\ntwo\r\nthree");
        assert_eq!(tail_lines(f.path(), 10).expect("tail").lines, ["one", "two", "three"]);
        assert_eq!(tail_lines(f.path(), 2).expect("tail").lines, ["two", "three"]);
        assert!(tail_lines(f.path(), 0).expect("tail").lines.is_empty());
    }

    #[test]
    fn lines_spanning_chunk_boundaries_are_whole() {
        let long = "x".repeat(40_000);
        let f = file_with(format!("first\n{long}\nlast\n").as_bytes());
        let tail = tail_lines(f.path(), 2).expect("tail");
        assert_eq!(tail.lines, [long.as_str(), "last"]);
    }

    #[test]
    fn one_huge_line_stops_at_the_byte_cap() {
        let f = file_with(&vec![b'y'; 300_000]);
        let tail = tail_lines_bounded(f.path(), 3, 100_000).expect("tail");
        assert_eq!(tail.bytes_read, 100_000);
        assert!(tail.lines.is_empty(), "a partial line is not returned");
    }

    #[test]
    fn empty_file() {
        let f = file_with(b"");
        assert!(tail_lines(f.path(), 3).expect("tail").lines.is_empty());
    }
}

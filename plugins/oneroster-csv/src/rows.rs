//! Reading one CSV file of the package row by row, from any position.
//!
//! This module owns the CSV dialect (RFC 4180 with what exports do in the
//! wild: a UTF-8 byte-order mark, CRLF or LF line ends, quoted fields holding
//! commas and line breaks, empty trailing columns, Windows-1252 text from
//! spreadsheet programs), the position a read has reached (the paging
//! cursor: byte offset, line and counts, so a page resumes by seeking rather
//! than re-reading), and the checks that make a row bad: a wrong number of
//! fields, no `sourcedId`, a date that is not a date. A bad row is reported
//! with its file, line and reason and skipped; it never stops the read.
//!
//! What is not data does not make a row bad: a `dateLastModified` that is
//! not a date (`15/01/2025`) is read as unknown and counted for one line at
//! the end of the file; a line of nothing but spaces and commas (the rows a
//! spreadsheet cleared) is not a row; a row may stop before the empty
//! columns that end a header line. Dates that are data (`startDate`,
//! `birthDate`, ...) are still checked: a guess at `01/02/2025` or a record
//! read without its date would change what the record says.

use std::io::{self, Read};

use homeroom_sdk::PluginError;
use homeroom_sdk::oneroster::{Version, date_of, normalize_datetime};

use crate::package::Package;
use crate::schema::{Fields, FileSpec, Header, check_header};

/// The longest `sourcedId` the host accepts.
pub const MAX_ID_BYTES: usize = 256;

/// Where a read of one file stands: the paging cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Byte offset of the next record, from the start of the file.
    pub byte: u64,
    /// Line number of the next record (1-based).
    pub line: u64,
    /// Records read so far (good and bad).
    pub records: u64,
    /// Bad records skipped so far.
    pub skipped: u64,
    /// Good records so far whose `dateLastModified` is not a date, read as
    /// unknown.
    pub undated: u64,
    /// The line of the first of them (0 when there is none).
    pub first_undated: u64,
}

impl Position {
    /// `byte:line:records:skipped`, and `:undated:first_undated` when some
    /// rows had a `dateLastModified` that is not a date.
    pub fn to_cursor(self) -> String {
        let mut cursor = format!(
            "{}:{}:{}:{}",
            self.byte, self.line, self.records, self.skipped
        );
        if self.undated > 0 {
            cursor.push_str(&format!(":{}:{}", self.undated, self.first_undated));
        }
        cursor
    }

    pub fn from_cursor(cursor: &str) -> Result<Position, PluginError> {
        let bad = || {
            PluginError::InvalidData(format!(
                "the paging cursor `{cursor}` was not made by this connector; start the read again"
            ))
        };
        let parts: Vec<u64> = cursor
            .split(':')
            .map(|p| p.parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        let (undated, first_undated) = match parts.as_slice() {
            [_, _, _, _] => (0, 0),
            &[_, line, _, _, undated, first] if undated > 0 && first > 0 && first < line => {
                (undated, first)
            }
            _ => return Err(bad()),
        };
        match parts.as_slice() {
            &[byte, line, records, skipped, ..]
                if line > 0 && skipped <= records && undated <= records - skipped =>
            {
                Ok(Position {
                    byte,
                    line,
                    records,
                    skipped,
                    undated,
                    first_undated,
                })
            }
            _ => Err(bad()),
        }
    }
}

/// One row of a file; a good row's fields are the reader's [`RowReader::fields`].
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Good { line: u64 },
    Bad { line: u64, reason: String },
}

/// The fields of a row as text, in one buffer reused from row to row.
#[derive(Debug, Clone, Default)]
pub struct Record {
    text: String,
    ends: Vec<usize>,
}

impl Record {
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    pub fn push(&mut self, field: &str) {
        self.text.push_str(field);
        self.ends.push(self.text.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Empty the field at `i` (the fields after it move down in the text).
    pub fn blank(&mut self, i: usize) {
        let Some(&end) = self.ends.get(i) else {
            return;
        };
        let start = match i.checked_sub(1) {
            Some(before) => self.ends.get(before).copied().unwrap_or(0),
            None => 0,
        };
        if start >= end || !self.text.is_char_boundary(start) || !self.text.is_char_boundary(end) {
            return;
        }
        self.text.replace_range(start..end, "");
        for e in self.ends.iter_mut().skip(i) {
            *e -= end - start;
        }
    }

    /// The field at `i`, if the row has one.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(before) => *self.ends.get(before)?,
            None => 0,
        };
        self.text.get(start..end)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i).unwrap_or(""))
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }
}

impl Fields for Record {
    fn field(&self, i: usize) -> Option<&str> {
        self.get(i)
    }
}

/// Where the columns the row checks look are.
struct Checked {
    id: usize,
    dates: Vec<(&'static str, usize)>,
    date_times: Vec<(&'static str, usize)>,
    /// `dateLastModified`, which is metadata: when it is not a date the row
    /// is read with none.
    modified: Option<usize>,
}

impl Checked {
    fn new(spec: &FileSpec, header: &Header) -> Checked {
        let at = |columns: &mut dyn Iterator<Item = &&'static str>| {
            columns
                .filter_map(|c| header.position(c).map(|i| (*c, i)))
                .collect()
        };
        Checked {
            // The header check makes sure every file has a sourcedId.
            id: header.position("sourcedId").unwrap_or(usize::MAX),
            dates: at(&mut spec.dates.iter()),
            date_times: at(&mut spec.date_times.iter()),
            modified: header.position("dateLastModified"),
        }
    }
}

/// A CSV file of the package being read.
pub struct RowReader {
    pub file: &'static str,
    pub header: Header,
    csv: csv::Reader<Box<dyn Read>>,
    /// Added to the CSV reader's byte offsets and line numbers, which count
    /// from where this stream started.
    byte_base: u64,
    line_base: u64,
    pub pos: Position,
    record: csv::ByteRecord,
    /// The fields of the last good row.
    fields: Record,
    checked: Checked,
    /// Empty fields a row may have beyond the header's: some exports end
    /// every data row with a comma. Set from the file's first row.
    extra: usize,
    /// Whether a field that was not UTF-8 was read as Windows-1252.
    pub not_utf8: bool,
    pub done: bool,
}

fn builder() -> csv::ReaderBuilder {
    let mut b = csv::ReaderBuilder::new();
    // Records end at `\n`; a `\r` before it is trimmed with the field. (With
    // the CRLF terminator the reader stops between `\r` and `\n`, and its
    // line numbers and resume offsets would be one short.) Fields are
    // trimmed of ASCII whitespace as they are read (`blank`), not by the
    // reader, whose trimming copies every record.
    b.has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(64 * 1024);
    b
}

fn io_error(file: &str, label: &str, e: impl std::fmt::Display) -> PluginError {
    PluginError::InvalidData(format!("{file} in {label} cannot be read: {e}"))
}

/// Skip a UTF-8 byte-order mark at the start of a stream; returns its length.
fn skip_bom(mut stream: Box<dyn Read>) -> io::Result<(Box<dyn Read>, u64)> {
    let mut head = [0u8; 3];
    let mut n = 0;
    while n < 3 {
        let k = stream.read(&mut head[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    if n == 3 && head == [0xef, 0xbb, 0xbf] {
        Ok((stream, 3))
    } else {
        Ok((
            Box::new(io::Cursor::new(head[..n].to_vec()).chain(stream)),
            0,
        ))
    }
}

impl RowReader {
    /// Open `spec`'s file in `package`, check its header against `version`,
    /// and stand at `at` (the first record when none).
    pub fn open(
        package: &Package,
        spec: &'static FileSpec,
        version: Version,
        at: Option<Position>,
    ) -> Result<RowReader, PluginError> {
        let file = spec.file;
        let label = &package.label;
        let name = package.has(file).unwrap_or(file).to_string();
        let stream = package
            .open(&name, 0)
            .map_err(|e| io_error(file, label, e))?;
        let (stream, bom) = skip_bom(stream).map_err(|e| io_error(file, label, e))?;
        let mut csv = builder().from_reader(stream);
        let mut record = csv::ByteRecord::new();
        let has_header = csv
            .read_byte_record(&mut record)
            .map_err(|e| io_error(file, label, e))?;
        if !has_header {
            return Err(PluginError::InvalidData(format!(
                "{file} in {label} is empty: a OneRoster CSV file starts with its header line ({})",
                spec.all_columns(version).join(",")
            )));
        }
        let mut fields = Record::default();
        decode(&record, usize::MAX, &mut fields);
        let header = check_header(spec, version, &fields.to_vec())?;
        let after_header = Position {
            byte: bom + csv.position().byte(),
            line: csv.position().line(),
            ..Position::default()
        };
        // Does the first row end with commas the header does not have?
        let width = header.width();
        let mut extra = 0;
        while csv
            .read_byte_record(&mut record)
            .map_err(|e| io_error(file, label, e))?
        {
            if is_blank(&record) {
                continue;
            }
            if record.len() > width && record.iter().skip(width).all(blank) {
                extra = record.len() - width;
            }
            break;
        }
        let at = at.unwrap_or(after_header);
        if at.byte < after_header.byte {
            return Err(PluginError::InvalidData(format!(
                "the paging cursor points into the header of {file}; start the read again"
            )));
        }
        let stream = package
            .open(&name, at.byte)
            .map_err(|e| io_error(file, label, e))?;
        Ok(RowReader {
            file,
            checked: Checked::new(spec, &header),
            header,
            fields,
            csv: builder().from_reader(stream),
            byte_base: at.byte,
            line_base: at.line - 1,
            pos: at,
            record,
            extra,
            not_utf8: false,
            done: false,
        })
    }

    /// The fields of the last good row [`RowReader::next_row`] returned.
    pub fn fields(&self) -> &Record {
        &self.fields
    }

    /// The `sourcedId` of the last good row.
    pub fn id(&self) -> &str {
        self.fields.get(self.checked.id).unwrap_or("")
    }

    /// The next row, or none at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<Row>, PluginError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let more = self
                .csv
                .read_byte_record(&mut self.record)
                .map_err(|e| io_error(self.file, "the package", e))?;
            let start_line = self
                .record
                .position()
                .map_or(self.pos.line, |p| self.line_base + p.line());
            let next = self.csv.position();
            self.pos.byte = self.byte_base + next.byte();
            self.pos.line = self.line_base + next.line();
            if !more {
                self.done = true;
                return Ok(None);
            }
            if is_blank(&self.record) {
                continue;
            }
            self.pos.records += 1;
            let row = self.check(start_line);
            if matches!(row, Row::Bad { .. }) {
                self.pos.skipped += 1;
            }
            return Ok(Some(row));
        }
    }

    fn check(&mut self, line: u64) -> Row {
        let width = self.header.width();
        let len = self.record.len();
        let bad = |reason: String| Row::Bad { line, reason };
        if len < width {
            // A row may stop before the empty columns ending the header line.
            let named = self.header.named_width();
            if len < named {
                return bad(format!(
                    "it has {len} field{} where the header has {named}",
                    if len == 1 { "" } else { "s" }
                ));
            }
        } else if len > width + self.extra
            || (len > width && !self.record.iter().skip(width).all(blank))
        {
            return bad(format!(
                "it has {len} fields where the header has {width} (a value holding a comma must be quoted)"
            ));
        }
        self.not_utf8 |= decode(&self.record, width, &mut self.fields);
        while self.fields.len() < width {
            self.fields.push("");
        }
        let fields = &self.fields;
        let id = fields.get(self.checked.id).unwrap_or("");
        if id.is_empty() {
            return bad("its sourcedId is empty".into());
        }
        if id.len() > MAX_ID_BYTES {
            return bad(format!("its sourcedId is longer than {MAX_ID_BYTES} bytes"));
        }
        if id.chars().any(char::is_control) {
            return bad(
                "its sourcedId holds a control character (a line break, a tab...); ids must be printable text"
                    .into(),
            );
        }
        for &(column, at) in &self.checked.dates {
            let value = fields.get(at).unwrap_or("");
            if !value.is_empty() && date_of(value).is_none() {
                return bad(format!(
                    "`{column}` is `{value}`, which is not a date (YYYY-MM-DD)"
                ));
            }
        }
        for &(column, at) in &self.checked.date_times {
            let value = fields.get(at).unwrap_or("");
            if !value.is_empty() && normalize_datetime(value).is_none() {
                return bad(format!(
                    "`{column}` is `{value}`, which is not a date-time (like 2024-08-19T14:30:00Z)"
                ));
            }
        }
        // Metadata only: a date that is not one is read as unknown, counted.
        if let Some(at) = self.checked.modified
            && fields
                .get(at)
                .is_some_and(|v| !v.is_empty() && normalize_datetime(v).is_none())
        {
            self.fields.blank(at);
            if self.pos.undated == 0 {
                self.pos.first_undated = line;
            }
            self.pos.undated += 1;
        }
        Row::Good { line }
    }
}

/// An empty line (with CRLF line ends, a lone `\r`, trimmed away), or one of
/// nothing but separators and spaces: a row a spreadsheet cleared. (A row
/// with data mostly has its `sourcedId` first, so this stops at one field.)
fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(blank)
}

/// A field that is empty once trimmed.
fn blank(field: &[u8]) -> bool {
    field.trim_ascii().is_empty()
}

/// The first `width` fields of a record as text into `out`: UTF-8, or else
/// Windows-1252 (what spreadsheet programs save), which is reported once per
/// file. Says whether any field was not UTF-8.
fn decode(record: &csv::ByteRecord, width: usize, out: &mut Record) -> bool {
    let mut lossy = false;
    out.clear();
    for raw in record.iter().take(width) {
        // Leading and trailing ASCII whitespace is not part of a value (the
        // `\r` of a CRLF line end is trimmed here too).
        let raw = raw.trim_ascii();
        match std::str::from_utf8(raw) {
            Ok(s) => out.push(s),
            Err(_) => {
                lossy = true;
                out.push(&windows_1252(raw));
            }
        }
    }
    lossy
}

/// Windows-1252 to text (its 0x80-0x9F differ from Latin-1).
pub fn windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9f => HIGH[(b - 0x80) as usize],
            _ => b as char,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let mut p = Position {
            byte: 1234,
            line: 17,
            records: 15,
            skipped: 2,
            ..Position::default()
        };
        assert_eq!(p.to_cursor(), "1234:17:15:2");
        assert_eq!(Position::from_cursor(&p.to_cursor()).unwrap(), p);
        p.undated = 3;
        p.first_undated = 4;
        assert_eq!(p.to_cursor(), "1234:17:15:2:3:4");
        assert_eq!(Position::from_cursor(&p.to_cursor()).unwrap(), p);
        for bad in [
            "",
            "12",
            "a:b:c:d",
            "1:0:0:0",
            "1:2:3:4",
            "1:2:3:4:5",
            "1:17:15:2:0:0",
            "1:17:15:2:3:0",
            "1:17:15:2:3:17",
            "1:17:15:2:14:4",
            "1:17:15:2:3:4:5",
        ] {
            assert!(Position::from_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn windows_1252_reads_accents_and_quotes() {
        assert_eq!(
            windows_1252(b"Jos\xe9 \x93Pepe\x94 Pe\xf1a"),
            "José “Pepe” Peña"
        );
    }
}

//! The suite's summary: each section writes `reliability/<section>.txt` under the directory cargo
//! gives integration tests (`CARGO_TARGET_TMPDIR`), and the combined
//! `reliability-summary.txt` beside it is rewritten from all sections each time.
//!
//! cargo shows a passing test's stderr only with `--nocapture`, so test.sh prints the file.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static LOCK: Mutex<()> = Mutex::new(());

/// Totals of one section of the summary.
#[derive(Debug, Default, Clone)]
pub struct Section {
    /// Cases run.
    pub run: usize,
    /// Cases passed.
    pub passed: usize,
    /// Events that never got a result.
    pub lost: usize,
    /// Events that got more than one result.
    pub duplicated: usize,
    /// Free-form lines (per-case results, numbers, skips with their reason).
    pub lines: Vec<String>,
}

/// Where the combined summary is written, given the integration tests' `CARGO_TARGET_TMPDIR`.
pub fn summary_path(tmpdir: &Path) -> PathBuf {
    tmpdir.join("reliability-summary.txt")
}

/// Write `section` as `name` and rebuild the combined summary; also prints it to stderr.
pub fn write(tmpdir: &Path, name: &str, s: &Section) {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmpdir.join("reliability");
    let _ = fs::create_dir_all(&dir);
    let mut text = format!(
        "[{name}] cases run: {}, passed: {}, events lost: {}, events duplicated: {}\n",
        s.run, s.passed, s.lost, s.duplicated
    );
    for l in &s.lines {
        text.push_str("  ");
        text.push_str(l);
        text.push('\n');
    }
    eprint!("{text}");
    let _ = fs::write(dir.join(format!("{name}.txt")), &text);
    let mut names: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    names.sort();
    let mut all = String::from("scfruntime reliability summary (tests/reliability)\n");
    let (mut run, mut passed, mut lost, mut dup) = (0usize, 0usize, 0usize, 0usize);
    for p in &names {
        if let Ok(t) = fs::read_to_string(p) {
            if let Some(first) = t.lines().next() {
                let nums: Vec<usize> = first
                    .split([':', ','])
                    .filter_map(|x| x.trim().parse().ok())
                    .collect();
                if let [r, p2, l, d] = nums[..] {
                    run += r;
                    passed += p2;
                    lost += l;
                    dup += d;
                }
            }
            all.push_str(&t);
        }
    }
    all.push_str(&format!(
        "TOTAL cases run: {run}, passed: {passed}, events lost: {lost}, events duplicated: {dup}\n"
    ));
    let _ = fs::write(summary_path(tmpdir), all);
}

/// The per-case results of one summary section, written and asserted by [`finish`](Self::finish).
pub struct Cases {
    tmpdir: PathBuf,
    name: String,
    section: Section,
}

impl Cases {
    /// Cases of the section `name`, to be written under `tmpdir` (`CARGO_TARGET_TMPDIR`).
    pub fn new(tmpdir: &Path, name: &str) -> Cases {
        Cases {
            tmpdir: tmpdir.to_path_buf(),
            name: name.to_string(),
            section: Section::default(),
        }
    }

    /// Record one case: `ok` or not, with `detail` in its line; returns `ok`.
    pub fn check(&mut self, case: &str, ok: bool, detail: String) -> bool {
        self.section.run += 1;
        self.section.passed += usize::from(ok);
        let mark = if ok { "ok  " } else { "FAIL" };
        self.section.lines.push(format!("{mark} {case}: {detail}"));
        ok
    }

    /// A free line (a number, a note).
    pub fn note(&mut self, line: String) {
        self.section.lines.push(line);
    }

    /// Write the section, then fail the test unless every case passed.
    pub fn finish(self) {
        write(&self.tmpdir, &self.name, &self.section);
        assert_eq!(
            self.section.passed,
            self.section.run,
            "{}:\n{}",
            self.name,
            self.section.lines.join("\n")
        );
    }
}

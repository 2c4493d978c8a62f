//! Function packages: safe extraction of a code zip.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Why a package could not be extracted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// The archive is not a readable zip file.
    #[error("cannot read zip archive {path}: {source}")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// What the zip reader reported.
        source: zip::result::ZipError,
    },
    /// An entry would land outside the destination (absolute path, `..`, escaping symlink) or has
    /// an unusable name. Nothing of the archive is written when a name is refused.
    #[error("refusing zip entry {name:?}: {reason}")]
    UnsafeEntry {
        /// The entry name as stored in the archive.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// The archive holds more entries, or unpacks to more bytes, than SCF accepts
    /// ([`MAX_ZIP_ENTRIES`], [`MAX_UNZIPPED_BYTES`]): a zip bomb or a package too large to run.
    #[error("zip archive {path} refused: {reason}")]
    TooLarge {
        /// The archive.
        path: PathBuf,
        /// Which limit, and where it was crossed.
        reason: String,
    },
    /// Reading the archive or writing the destination failed.
    #[error("cannot extract to {path}: {source}")]
    Io {
        /// The file being written or read.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// The most files and folders a code zip may hold.
pub const MAX_ZIP_ENTRIES: usize = 20_000;
/// The most bytes a code zip may unpack to: SCF's limit on unpacked code (500 MB).
pub const MAX_UNZIPPED_BYTES: u64 = 500 * 1024 * 1024;

enum Kind {
    Dir,
    File,
    Symlink,
}

struct Entry {
    index: usize,
    name: String,
    rel: PathBuf,
    kind: Kind,
    mode: Option<u32>,
}

/// Extracts `zip` into the existing directory `dest`.
///
/// Refuses (before writing anything) entries with absolute paths, drive letters, `..` components
/// or NUL bytes; refuses symlinks whose target is absolute or leads outside `dest`. Symlinks are
/// created after all files, so no file is ever written through an archive symlink. Unix permission
/// bits from the entries' external attributes are kept (0644 / 0755 when the archive has none);
/// setuid, setgid and sticky bits are dropped. Zip bombs are refused: more than
/// [`MAX_ZIP_ENTRIES`] entries or declared sizes over [`MAX_UNZIPPED_BYTES`] before anything is
/// written, and an entry whose header lies is cut off once the bytes really written pass the
/// limit. On an error the caller removes `dest`: what was written so far is incomplete.
pub fn extract_zip(zip: &Path, dest: &Path) -> Result<(), PackageError> {
    let zip_err = |source| PackageError::Zip {
        path: zip.to_owned(),
        source,
    };
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| PackageError::Io { path, source }
    };
    let file = File::open(zip).map_err(io_err(zip))?;
    let mut archive = zip::ZipArchive::new(file).map_err(zip_err)?;
    let too_large = |reason: String| PackageError::TooLarge {
        path: zip.to_owned(),
        reason,
    };
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(too_large(format!(
            "{} entries, over the limit of {MAX_ZIP_ENTRIES}",
            archive.len()
        )));
    }

    let mut entries = Vec::with_capacity(archive.len());
    let mut declared: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(zip_err)?;
        let name = entry.name().map_err(zip_err)?.into_owned();
        let refuse = |reason: &str| PackageError::UnsafeEntry {
            name: name.clone(),
            reason: reason.to_owned(),
        };
        let rel = safe_relative(&name).map_err(&refuse)?;
        declared = declared.saturating_add(entry.size());
        if declared > MAX_UNZIPPED_BYTES {
            return Err(too_large(format!(
                "its entries up to {name:?} unpack to more than {MAX_UNZIPPED_BYTES} bytes"
            )));
        }
        let mode = entry.unix_mode();
        let kind = if entry.is_symlink() {
            Kind::Symlink
        } else if entry.is_dir() {
            Kind::Dir
        } else {
            Kind::File
        };
        let Some(rel) = rel else {
            if matches!(kind, Kind::Dir) {
                continue; // "./": the destination itself
            }
            return Err(refuse("empty path"));
        };
        entries.push(Entry {
            index,
            name,
            rel,
            kind,
            mode,
        });
    }

    let mut dirs = Vec::new();
    let mut written: u64 = 0;
    for e in entries.iter().filter(|e| !matches!(e.kind, Kind::Symlink)) {
        let path = dest.join(&e.rel);
        match e.kind {
            Kind::Dir => {
                std::fs::create_dir_all(&path).map_err(io_err(&path))?;
                dirs.push((path, e.mode.map_or(0o755, |m| m & 0o777)));
            }
            Kind::File => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
                }
                let mode = e.mode.map_or(0o644, |m| m & 0o777);
                let mut out = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(io_err(&path))?;
                let mut entry = archive.by_index(e.index).map_err(zip_err)?;
                // Count what really inflates: a header can understate an entry's size.
                let budget = MAX_UNZIPPED_BYTES - written;
                written += io::copy(&mut io::Read::take(&mut entry, budget + 1), &mut out)
                    .map_err(io_err(&path))?;
                if written > MAX_UNZIPPED_BYTES {
                    return Err(too_large(format!(
                        "entry {:?} inflates past the limit of {MAX_UNZIPPED_BYTES} bytes",
                        e.name
                    )));
                }
                drop(out);
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(io_err(&path))?;
            }
            Kind::Symlink => {}
        }
    }

    for e in entries.iter().filter(|e| matches!(e.kind, Kind::Symlink)) {
        let mut target = String::new();
        {
            let mut entry = archive.by_index(e.index).map_err(zip_err)?;
            io::Read::read_to_string(&mut entry, &mut target)
                .map_err(io_err(&dest.join(&e.rel)))?;
        }
        let refuse = |reason: &str| PackageError::UnsafeEntry {
            name: e.name.clone(),
            reason: reason.to_owned(),
        };
        let target_path = Path::new(&target);
        if target.is_empty() || target.contains('\0') {
            return Err(refuse("symlink with an empty or invalid target"));
        }
        if target_path.is_absolute() {
            return Err(refuse("symlink to an absolute path"));
        }
        let parent = e.rel.parent().unwrap_or(Path::new(""));
        if !stays_inside(&parent.join(target_path)) {
            return Err(refuse("symlink pointing outside the package"));
        }
        let path = dest.join(&e.rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        std::os::unix::fs::symlink(target_path, &path).map_err(io_err(&path))?;
    }

    // A `..` in a target is judged lexically above; through other symlinks it could still lead
    // out, so check where such links really resolve now that all of them exist.
    let root = std::fs::canonicalize(dest).map_err(io_err(dest))?;
    for e in entries.iter().filter(|e| matches!(e.kind, Kind::Symlink)) {
        let path = dest.join(&e.rel);
        let target = std::fs::read_link(&path).map_err(io_err(&path))?;
        if !target.components().any(|c| c == Component::ParentDir) {
            continue;
        }
        match std::fs::canonicalize(&path) {
            Ok(real) if real.starts_with(&root) => {}
            _ => {
                let _ = std::fs::remove_file(&path);
                return Err(PackageError::UnsafeEntry {
                    name: e.name.clone(),
                    reason: "symlink resolving outside the package (or dangling through `..`)"
                        .into(),
                });
            }
        }
    }

    // Directory modes last, so a read-only directory does not stop its own extraction.
    for (path, mode) in dirs.into_iter().rev() {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(io_err(&path))?;
    }
    Ok(())
}

/// The entry name as a relative path, `None` for the root itself, or why it is refused.
fn safe_relative(name: &str) -> Result<Option<PathBuf>, &'static str> {
    if name.contains('\0') {
        return Err("NUL byte in name");
    }
    // Zips made on Windows may use backslashes as separators.
    let name = name.replace('\\', "/");
    if name.starts_with('/') {
        return Err("absolute path");
    }
    let mut rel = PathBuf::new();
    for (i, part) in name.split('/').enumerate() {
        match part {
            "" | "." => {}
            ".." => return Err("`..` path component"),
            p if i == 0 && p.len() == 2 && p.ends_with(':') => {
                return Err("absolute path (drive letter)");
            }
            p => rel.push(p),
        }
    }
    Ok((!rel.as_os_str().is_empty()).then_some(rel))
}

/// Whether a relative path, `..` resolved lexically, stays within its root.
pub(crate) fn stays_inside(path: &Path) -> bool {
    let mut depth = 0usize;
    for c in path.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            safe_relative("a/b.txt").unwrap(),
            Some(PathBuf::from("a/b.txt"))
        );
        assert_eq!(
            safe_relative("./a//b/").unwrap(),
            Some(PathBuf::from("a/b"))
        );
        assert_eq!(safe_relative("./").unwrap(), None);
        assert!(safe_relative("/etc/passwd").is_err());
        assert!(safe_relative("../evil").is_err());
        assert!(safe_relative("a/../../evil").is_err());
        assert!(safe_relative("a\\..\\evil").is_err());
        assert!(safe_relative("C:/x").is_err());
    }

    #[test]
    fn inside() {
        assert!(stays_inside(Path::new("a/../b")));
        assert!(stays_inside(Path::new("a/..")));
        assert!(!stays_inside(Path::new("a/../..")));
        assert!(!stays_inside(Path::new("../x")));
    }
}

//! Just enough ELF reading to warn about binaries SCF cannot run: the machine (SCF is x86-64)
//! and the newest `GLIBC_x.y` symbol version a binary needs (SCF's CentOS 7.6 has glibc 2.17).

/// The glibc of SCF's CentOS 7.6 images.
pub const SCF_GLIBC: (u32, u32) = (2, 17);

/// `e_machine` of x86-64.
pub const EM_X86_64: u16 = 62;

const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;

/// What [`inspect`] found in an ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// `e_machine` (62 for x86-64).
    pub machine: u16,
    /// Whether it is a 64-bit ELF.
    pub is_64: bool,
    /// The newest `GLIBC_x.y[.z]` version needed, as numbers, with its name.
    pub max_glibc: Option<(Vec<u32>, String)>,
}

impl ElfInfo {
    /// Whether it runs on SCF's processor (x86-64).
    pub fn is_x86_64(&self) -> bool {
        self.machine == EM_X86_64 && self.is_64
    }

    /// The needed glibc version when it is newer than [`SCF_GLIBC`].
    pub fn glibc_too_new(&self) -> Option<&str> {
        let (v, name) = self.max_glibc.as_ref()?;
        let floor = [SCF_GLIBC.0, SCF_GLIBC.1];
        (v.as_slice() > floor.as_slice()).then_some(name.as_str())
    }

    /// A readable name of the machine.
    pub fn machine_name(&self) -> String {
        match (self.machine, self.is_64) {
            (62, true) => "x86-64".into(),
            (62, false) => "x86-64 (32-bit ELF, x32)".into(),
            (3, _) => "i386".into(),
            (183, _) => "aarch64".into(),
            (40, _) => "arm".into(),
            (243, _) => "riscv".into(),
            (m, _) => format!("machine {m}"),
        }
    }
}

/// Whether `data` starts like an ELF file.
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// Reads the machine and the glibc versions an ELF file needs; `None` when `data` is not a
/// well-formed ELF file (or is truncated).
pub fn inspect(data: &[u8]) -> Option<ElfInfo> {
    if !is_elf(data) {
        return None;
    }
    let r = Reader {
        data,
        le: match data.get(5)? {
            1 => true,
            2 => false,
            _ => return None,
        },
    };
    let is_64 = match data.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let machine = r.u16(18)?;
    let (shoff, shentsize, shnum) = if is_64 {
        (r.u64(0x28)?, r.u16(0x3a)?, r.u16(0x3c)?)
    } else {
        (u64::from(r.u32(0x20)?), r.u16(0x2e)?, r.u16(0x30)?)
    };
    let section = |i: u32| -> Option<Section> {
        let base = usize::try_from(shoff)
            .ok()?
            .checked_add(usize::from(shentsize).checked_mul(usize::try_from(i).ok()?)?)?;
        Some(if is_64 {
            Section {
                kind: r.u32(base.saturating_add(4))?,
                offset: r.u64(base.saturating_add(24))?,
                size: r.u64(base.saturating_add(32))?,
                link: r.u32(base.saturating_add(40))?,
                info: r.u32(base.saturating_add(44))?,
            }
        } else {
            Section {
                kind: r.u32(base.saturating_add(4))?,
                offset: u64::from(r.u32(base.saturating_add(16))?),
                size: u64::from(r.u32(base.saturating_add(20))?),
                link: r.u32(base.saturating_add(24))?,
                info: r.u32(base.saturating_add(28))?,
            }
        })
    };
    let mut max_glibc: Option<(Vec<u32>, String)> = None;
    for i in 0..u32::from(shnum) {
        let Some(sec) = section(i) else { break };
        if sec.kind != SHT_GNU_VERNEED {
            continue;
        }
        let Some(strtab) = section(sec.link) else {
            continue;
        };
        let strings = r.slice(strtab.offset, strtab.size)?;
        let mut off = usize::try_from(sec.offset).ok()?;
        // vn_cnt / sh_info bound every loop; a malformed file ends it early.
        for _ in 0..sec.info.min(1024) {
            let (Some(cnt), Some(aux), Some(next)) = (
                r.u16(off.saturating_add(2)),
                r.u32(off.saturating_add(8)),
                r.u32(off.saturating_add(12)),
            ) else {
                break;
            };
            let mut aoff = off.checked_add(aux as usize)?;
            for _ in 0..cnt {
                let (Some(name), Some(anext)) = (
                    r.u32(aoff.saturating_add(8)),
                    r.u32(aoff.saturating_add(12)),
                ) else {
                    break;
                };
                if let Some(name) = c_str(strings, name as usize)
                    && let Some(v) = name.strip_prefix("GLIBC_")
                    && let Some(nums) = parse_version(v)
                    && max_glibc.as_ref().is_none_or(|(m, _)| nums > *m)
                {
                    max_glibc = Some((nums, name.to_owned()));
                }
                if anext == 0 {
                    break;
                }
                aoff = aoff.checked_add(anext as usize)?;
            }
            if next == 0 {
                break;
            }
            off = off.checked_add(next as usize)?;
        }
    }
    Some(ElfInfo {
        machine,
        is_64,
        max_glibc,
    })
}

struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
}

struct Reader<'a> {
    data: &'a [u8],
    le: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.data.get(at..at.checked_add(N)?)?.try_into().ok()
    }
    fn u16(&self, at: usize) -> Option<u16> {
        let b = self.bytes(at)?;
        Some(if self.le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }
    fn u32(&self, at: usize) -> Option<u32> {
        let b = self.bytes(at)?;
        Some(if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    fn u64(&self, at: usize) -> Option<u64> {
        let b = self.bytes(at)?;
        Some(if self.le {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }
    fn slice(&self, offset: u64, size: u64) -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(size).ok()?)?;
        self.data.get(start..end)
    }
}

fn c_str(strings: &[u8], at: usize) -> Option<&str> {
    let rest = strings.get(at..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&rest[..end]).ok()
}

fn parse_version(v: &str) -> Option<Vec<u32>> {
    v.split('.').map(|p| p.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("2.17").unwrap() < parse_version("2.34").unwrap());
        assert!(parse_version("2.3.4").unwrap() < parse_version("2.17").unwrap());
        assert!(parse_version("PRIVATE").is_none());
    }

    #[test]
    fn own_executable() {
        // The test binary itself is an ELF for the host; it needs some glibc version.
        let exe = std::env::current_exe().unwrap();
        let data = std::fs::read(exe).unwrap();
        let info = inspect(&data).unwrap();
        #[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
        {
            assert!(info.is_x86_64());
            assert!(info.max_glibc.is_some());
        }
        let _ = info.machine_name();
    }

    #[test]
    fn garbage_is_not_elf() {
        assert!(inspect(b"").is_none());
        assert!(inspect(b"#!/bin/bash\n").is_none());
        assert!(inspect(b"\x7fELF\x02\x01").is_none());
        let mut fake = b"\x7fELF\x02\x01".to_vec();
        fake.resize(64, 0xff);
        // Section table far outside the data: no panic, no versions.
        if let Some(info) = inspect(&fake) {
            assert!(info.max_glibc.is_none());
        }
    }
}

//! What the size rows report about a binary: its size, machine, and whether it is
//! static and stripped, read from the ELF headers.

use std::path::Path;

#[derive(Clone, Debug)]
pub struct Elf {
    pub size: u64,
    pub machine: &'static str,
    pub is_static: bool,
    pub stripped: bool,
}

pub fn elf(path: &Path) -> Result<Elf, String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 || b[5] != 1 {
        return Err(format!(
            "{}: not a 64-bit little-endian ELF",
            path.display()
        ));
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let machine = match u16_at(18) {
        62 => "x86_64",
        183 => "aarch64",
        _ => "other",
    };
    let (phoff, phsize, phnum) = (u64_at(32) as usize, usize::from(u16_at(54)), u16_at(56));
    let (shoff, shsize, shnum) = (u64_at(40) as usize, usize::from(u16_at(58)), u16_at(60));
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    const SHT_SYMTAB: u32 = 2;
    let mut is_static = true;
    for i in 0..usize::from(phnum) {
        let o = phoff + i * phsize;
        if o + 4 <= b.len() && matches!(u32_at(o), PT_DYNAMIC | PT_INTERP) {
            is_static = false;
        }
    }
    let mut stripped = true;
    for i in 0..usize::from(shnum) {
        let o = shoff + i * shsize;
        if o + 8 <= b.len() && u32_at(o + 4) == SHT_SYMTAB {
            stripped = false;
        }
    }
    Ok(Elf {
        size: b.len() as u64,
        machine,
        is_static,
        stripped,
    })
}

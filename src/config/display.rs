//! `dynhost check`: the effective config restated as TOML that the reader accepts,
//! defaults filled in and secrets redacted, in the order of the settings table.

use std::fmt;

use super::Config;
use super::settings::Target;
use super::table;

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let globals = |f: &mut fmt::Formatter<'_>, section: &str| -> fmt::Result {
            for s in table::in_section(section) {
                if let Target::Global { show, .. } = s.target
                    && let Some(v) = show(self)
                {
                    writeln!(f, "{} = {v}", s.leaf())?;
                }
            }
            Ok(())
        };
        globals(f, "")?;
        for section in table::sections() {
            if section == "record" {
                continue;
            }
            writeln!(f, "\n[{section}]")?;
            globals(f, section)?;
        }
        for r in &self.records {
            writeln!(f, "\n[[record]]")?;
            for s in table::in_section("record") {
                if let Target::Record { show, .. } = s.target
                    && let Some(v) = show(r)
                {
                    writeln!(f, "{} = {v}", s.leaf())?;
                }
            }
        }
        Ok(())
    }
}

//! User-id hashing (`user_id_hashing` in docs/design.md, "Privacy"): `off`, `add` or `replace`, with
//! HMAC-SHA256 keyed by the app's secret (RFC 2104 via the `hmac` + `sha2` crates).

use crate::error::{Error, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

/// What to do with the raw end-user id before spans leave the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserIdHashing {
    /// Send the id as given (default).
    #[default]
    Off,
    /// Send the id and also `user.id.hash` = hex HMAC-SHA256(key, id) (and the same value as OTel
    /// semconv `user.hash`).
    Add,
    /// Send the hash as `user.id` (and `user.id.hash`, `user.hash`), and drop `user.email`: the raw identity never
    /// leaves the process.
    Replace,
}

impl UserIdHashing {
    /// The option spelling: `off`, `add`, `replace`.
    pub fn as_str(self) -> &'static str {
        match self {
            UserIdHashing::Off => "off",
            UserIdHashing::Add => "add",
            UserIdHashing::Replace => "replace",
        }
    }
}

impl FromStr for UserIdHashing {
    type Err = Error;
    /// Parses `off` | `add` | `replace`; anything else is [`Error::InvalidValue`] naming the field
    /// `user_id_hashing`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "off" => Ok(UserIdHashing::Off),
            "add" => Ok(UserIdHashing::Add),
            "replace" => Ok(UserIdHashing::Replace),
            other => Err(Error::InvalidValue {
                field: "user_id_hashing".into(),
                allowed: "\"off\", \"add\", \"replace\"".into(),
                got: format!("{other:?}"),
            }),
        }
    }
}

/// A hashing mode with its key. Each instance has a distinct `id` so scopes can cache what they
/// rendered for it.
#[derive(Clone)]
pub struct Privacy {
    pub(crate) mode: UserIdHashing,
    key: Vec<u8>,
    pub(crate) id: u64,
}

impl std::fmt::Debug for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Privacy").field("mode", &self.mode).field("key", &"<redacted>").finish()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Privacy {
    /// No hashing.
    pub fn off() -> Self {
        Privacy { mode: UserIdHashing::Off, key: Vec::new(), id: 0 }
    }

    /// A hashing mode with its key.
    ///
    /// # Errors
    /// [`Error::Config`] when `mode` is `add`/`replace` and the key is missing or empty.
    pub fn new(mode: UserIdHashing, key: Option<&str>) -> Result<Self> {
        if mode == UserIdHashing::Off {
            return Ok(Self::off());
        }
        let key = key.filter(|k| !k.is_empty()).ok_or_else(|| {
            Error::Config(format!(
                "user_id_hashing / userIdHashing = \"{}\" needs hash_key / hashKey (or USERSPAN_HASH_KEY)",
                mode.as_str()
            ))
        })?;
        Ok(Privacy { mode, key: key.as_bytes().to_vec(), id: NEXT_ID.fetch_add(1, Ordering::Relaxed) })
    }

    /// The mode.
    pub fn mode(&self) -> UserIdHashing {
        self.mode
    }

    /// Lower-case hex HMAC-SHA256(key, id): 64 characters.
    pub fn hash(&self, id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl Default for Privacy {
    fn default() -> Self {
        Self::off()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        let p = Privacy::new(UserIdHashing::Add, Some("Jefe")).unwrap();
        assert_eq!(
            p.hash("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hashing_without_key_is_a_config_error() {
        let err = Privacy::new(UserIdHashing::Replace, None).unwrap_err();
        assert!(err.to_string().contains("hash_key"), "{err}");
        assert_eq!("sha".parse::<UserIdHashing>().unwrap_err().field(), Some("user_id_hashing"));
    }
}

//! Secrets every replica must share, kept in the database: made once, by whichever process needs
//! one first, and read by all the others (DESIGN.md §8: no replica is special).

use rand::RngCore;

use super::tenants::now;
use super::{Store, StoreResult, read, write};

/// The key of the HMAC that makes paging cursors tamper-evident.
const CURSOR_KEY: &str = "cursor_hmac_key";

impl Store {
    /// The cursor HMAC key. The first caller's random key wins a race: every replica gets the one
    /// stored.
    pub async fn cursor_key(&self) -> StoreResult<Vec<u8>> {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let insert = self
            .sql("INSERT INTO server_secrets (name, value, created) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING");
        write!(self, pool => sqlx::query(insert).bind(CURSOR_KEY).bind(hex::encode(key)).bind(now()).execute(pool).await.map(|_| ()))?;
        let select = self.sql("SELECT value FROM server_secrets WHERE name = $1");
        let (value,): (String,) = read!(self, pool => sqlx::query_as(select).bind(CURSOR_KEY).fetch_one(pool).await)?;
        hex::decode(value).map_err(|e| super::StoreError::Database(sqlx::Error::Decode(Box::new(e))))
    }
}

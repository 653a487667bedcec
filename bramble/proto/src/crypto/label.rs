//! Every label fed to [`hash`](super::hash), [`mac`](super::mac), [`kdf`](super::kdf)
//! and [`SigningKey::sign`](super::SigningKey::sign).
//!
//! `spec/crypto.md#labels` lists the same strings with their inputs; a label is never
//! reused for a second purpose. New labels are added here and in the spec together.

/// Period secret of the first period of Alice's outgoing chain:
/// `KDF(label, root_key, transport_id, u64be(period))`.
pub const STREAM_INITIAL_CHAIN_ALICE: &str = "thicket/stream/initial-chain/alice";
/// Period secret of the first period of Bob's outgoing chain:
/// `KDF(label, root_key, transport_id, u64be(period))`.
pub const STREAM_INITIAL_CHAIN_BOB: &str = "thicket/stream/initial-chain/bob";
/// Period secret of the next period: `KDF(label, secret_p, u64be(p + 1))`.
pub const STREAM_NEXT_CHAIN: &str = "thicket/stream/next-chain";
/// Tag key of a period: `KDF(label, secret_p)`.
pub const STREAM_TAG_KEY: &str = "thicket/stream/tag-key";
/// Header key of a period: `KDF(label, secret_p)`.
pub const STREAM_HEADER_KEY: &str = "thicket/stream/header-key";
/// Beacon of a period, announced by broadcast transports: first 16 bytes of
/// `MAC(label, secret_p)`.
pub const STREAM_BEACON: &str = "thicket/stream/beacon";
/// Stream tag: first 16 bytes of `MAC(label, tag_key, u16be(version), u64be(stream))`.
pub const STREAM_TAG: &str = "thicket/stream/tag";
/// Frame key of one stream: `KDF(label, stream_secret)`.
pub const STREAM_FRAME_KEY: &str = "thicket/stream/frame-key";
/// Frame-header mask key of one stream: `KDF(label, stream_secret)`.
pub const STREAM_FRAME_HEADER_KEY: &str = "thicket/stream/frame-header-key";

/// Identifier of a group: `H(label, client_id, u32be(major_version), descriptor)`
/// (`spec/sync.md#groups`).
pub const SYNC_GROUP_ID: &str = "thicket/sync/group-id";
/// Identifier of a message: `H(label, group_id, u64be(timestamp), body)`
/// (`spec/sync.md#messages`).
pub const SYNC_MESSAGE_ID: &str = "thicket/sync/message-id";

/// Checksum of a contact link: first 2 bytes of `H(label, version ‖ handshake_key)`
/// (`spec/contacts.md#links`).
pub const CONTACT_LINK_CHECKSUM: &str = "thicket/contact/link-checksum";
/// Rendezvous key of two links:
/// `KDF(label, X25519(s, S'), alice_key, bob_key)` (`spec/contacts.md#rendezvous`).
pub const CONTACT_RENDEZVOUS_KEY: &str = "thicket/contact/rendezvous-key";
/// Root of a pending contact's handshake stream keys for one transport:
/// `KDF(label, rendezvous_key, transport_id)`.
pub const CONTACT_HANDSHAKE_ROOT: &str = "thicket/contact/handshake-root";
/// Seed of a side's rendezvous onion service key:
/// `KDF(label, rendezvous_key, role)`.
pub const CONTACT_TOR_SEED: &str = "thicket/contact/tor-seed";
/// Rendezvous label of a period on a broadcast transport (LAN, BLE): first 16 bytes of
/// `MAC(label, rendezvous_key, transport_id, u64be(period))`.
pub const CONTACT_RENDEZVOUS_LABEL: &str = "thicket/contact/rendezvous-label";
/// Master key of a handshake:
/// `KDF(label, DH(eA, eB), DH(sA, eB), DH(eA, sB), SA, SB, EA, EB)`
/// (`spec/contacts.md#handshake`).
pub const CONTACT_MASTER_KEY: &str = "thicket/contact/master-key";
/// Key that seals a side's contact info: `KDF(label, master_key, role)`.
pub const CONTACT_INFO_KEY: &str = "thicket/contact/info-key";
/// Nonce a side's contact info signature covers: `MAC(label, master_key, role)`.
pub const CONTACT_INFO_NONCE: &str = "thicket/contact/info-nonce";
/// Signature label of contact info: `sign(label, nonce ‖ encoded fields)`.
pub const CONTACT_INFO_SIGNATURE: &str = "thicket/contact/info-signature";
/// Root key of a new contact's stream keys: `KDF(label, master_key)`.
pub const CONTACT_ROOT_KEY: &str = "thicket/contact/root-key";
/// Safety number of two accounts:
/// `H(label, first_identity, first_link_key, second_identity, second_link_key)`
/// (`spec/contacts.md#safety-numbers`).
pub const CONTACT_SAFETY_NUMBER: &str = "thicket/contact/safety-number";

/// Key from which the LAN transport's listening ports are derived, published to
/// contacts: `KDF(label, lan_transport_secret)` (`spec/lan.md#ports`).
pub const LAN_PORT_KEY: &str = "thicket/lan/port-key";
/// The LAN port of a period: `MAC(label, port_key, u64be(period))`, reduced.
pub const LAN_PORT: &str = "thicket/lan/port";

/// Tag of a Bluetooth LE advertisement announcing a beacon or rendezvous label:
/// first 8 bytes of `H(label, value, salt)` (`spec/ble.md#advertisements`).
pub const BLE_ADVERT: &str = "thicket/ble/advert";

/// Key that seals the database key in the key file:
/// `KDF(label, argon2id_output)` (`spec/store.md#key-file`).
pub const STORE_KEY_ENCRYPTION_KEY: &str = "thicket/store/key-encryption-key";
/// Checksum of the key file: `H(label, key_file[..135])`.
pub const STORE_KEY_FILE_CHECKSUM: &str = "thicket/store/key-file-checksum";

/// All labels, for the uniqueness test and the spec cross-check.
pub const ALL: &[&str] = &[
    STREAM_INITIAL_CHAIN_ALICE,
    STREAM_INITIAL_CHAIN_BOB,
    STREAM_NEXT_CHAIN,
    STREAM_TAG_KEY,
    STREAM_HEADER_KEY,
    STREAM_BEACON,
    STREAM_TAG,
    STREAM_FRAME_KEY,
    STREAM_FRAME_HEADER_KEY,
    SYNC_GROUP_ID,
    SYNC_MESSAGE_ID,
    CONTACT_LINK_CHECKSUM,
    CONTACT_RENDEZVOUS_KEY,
    CONTACT_HANDSHAKE_ROOT,
    CONTACT_TOR_SEED,
    CONTACT_RENDEZVOUS_LABEL,
    CONTACT_MASTER_KEY,
    CONTACT_INFO_KEY,
    CONTACT_INFO_NONCE,
    CONTACT_INFO_SIGNATURE,
    CONTACT_ROOT_KEY,
    CONTACT_SAFETY_NUMBER,
    LAN_PORT_KEY,
    LAN_PORT,
    BLE_ADVERT,
    STORE_KEY_ENCRYPTION_KEY,
    STORE_KEY_FILE_CHECKSUM,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique_and_well_formed() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(a.starts_with("thicket/"), "{a}");
            assert!(a.bytes().all(|b| b.is_ascii_graphic()), "{a}");
            for b in &ALL[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}

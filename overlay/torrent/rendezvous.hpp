// Where peers of one torrent find each other's overlay peer ids without telling anyone
// the info-hash: everything published is derived from it through a one-way hash, so DHT
// nodes and introducers see only a rendezvous hash and a key that only peers holding the
// torrent can compute. Peers publish their peer id in one of a few BEP 44 slots (mutable
// items signed with the derived key, salted by slot number); a peer looking for others
// reads all slots.
#pragma once

#include "dht/bencode/value.hpp"
#include "overlay/identity.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace ovl::torrent {

// Slots per torrent: more slots mean fewer peers overwriting each other, more lookups.
inline constexpr int rendezvous_slots = 8;

struct rendezvous {
    // Carried in introductions (ctx) so the target knows which torrent is meant.
    std::string hash;
    // Signs the slot items; the same for every peer with the info-hash.
    overlay::identity key;
};

// `info_hash`: the torrent's v1 (20 bytes) or v2 (32 bytes) info-hash.
rendezvous rendezvous_for(std::span<const std::uint8_t> info_hash);
std::string slot_salt(int slot);
// The slot a peer publishes in (spread by its key, stable across restarts).
int slot_of(const overlay::public_key& peer);

// What a peer publishes in its slot: its plugin peer id, and the peer id of its native
// overlay endpoint (the bridge), which others dial when libtorrent cannot reach it.
struct slot_entry {
    overlay::public_key peer{};
    std::optional<overlay::public_key> bridge;
    // The NAT verdict the bridge found (e.g. "nat-symmetric"): a peer behind a symmetric
    // NAT is dialed through the bridge at once, without a uTP punch that cannot work.
    std::string nat;
};

bencode::value encode_slot(const slot_entry& entry);
// nullopt unless the value is a slot naming a 32-byte peer key; a malformed bridge key
// is left out (older peers publish none).
std::optional<slot_entry> decode_slot(const bencode::value& v);

} // namespace ovl::torrent

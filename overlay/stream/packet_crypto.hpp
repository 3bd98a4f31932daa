// Sealing and opening of data packets: ChaCha20-Poly1305 (IETF) keyed per direction,
// the 64-bit packet number as nonce (never reused: the sender only counts up), and the
// cleartext header (type, connection id, packet number) as associated data so no header
// bit can be changed either. The opener keeps a replay window of packet numbers.
#pragma once

#include "dht/base/datagram.hpp"

#include <array>
#include <cstdint>
#include <optional>

namespace ovl::overlay::stream {

using aead_key = std::array<std::uint8_t, 32>;

// Which packet numbers were already accepted, within `size` of the highest; older ones
// are refused as possible replays. Fixed memory whatever the peer sends.
class replay_window {
public:
    static constexpr std::uint64_t size = 2048;
    bool seen_or_too_old(std::uint64_t pn) const;
    void mark(std::uint64_t pn);

private:
    std::array<std::uint64_t, size / 64> bits_{};
    std::uint64_t highest_ = 0;
    bool any_ = false;
};

class packet_sealer {
public:
    packet_sealer(const aead_key& key, std::uint64_t connection_id) : key_(key), cid_(connection_id) {}
    ~packet_sealer();
    packet_sealer(const packet_sealer&) = delete;
    packet_sealer& operator=(const packet_sealer&) = delete;

    // A whole datagram: header, then the sealed plaintext and its tag.
    bytes seal(std::uint64_t packet_number, bytes_view plaintext) const;

private:
    aead_key key_;
    std::uint64_t cid_;
};

struct opened_packet {
    std::uint64_t packet_number;
    bytes plaintext;
};

class packet_opener {
public:
    packet_opener(const aead_key& key, std::uint64_t connection_id) : key_(key), cid_(connection_id) {}
    ~packet_opener();
    packet_opener(const packet_opener&) = delete;
    packet_opener& operator=(const packet_opener&) = delete;

    // nullopt for anything not sealed by the peer for this connection, or already seen.
    std::optional<opened_packet> open(bytes_view datagram);

private:
    aead_key key_;
    std::uint64_t cid_;
    replay_window window_;
};

// One-shot sealing for the handshake messages: each key seals exactly one message, so
// a zero nonce is safe. `ad` binds the message to its header.
bytes seal_once(const aead_key& key, bytes_view ad, bytes_view plaintext);
std::optional<bytes> open_once(const aead_key& key, bytes_view ad, bytes_view sealed);

} // namespace ovl::overlay::stream

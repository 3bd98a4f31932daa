// The authenticated key exchange (SIGMA-I shape, libsodium primitives only):
//
//   initiator -> INIT      cid, e_i                                   (padded to 200 B)
//   responder -> RESPONSE  cid, e_r, seal(hs_r, s_r || sign_r(th_r))
//   initiator -> FINISH    cid, seal(hs_i, s_i || sign_i(th_i))      (data may follow)
//
// e_* are fresh X25519 keys (forward secrecy), s_* the ed25519 identities. The transcript
// hashes th_r = H(cid, e_i, e_r, s_r) and th_i = H(th_r, s_i) are what each side signs,
// under a role label, so a signature proves its owner took part in exactly this exchange.
// Keys come from BLAKE2b keyed with the X25519 output: the handshake keys hs_* over the
// ephemerals, the application keys over the whole transcript. Identities travel sealed,
// so a passive observer learns neither key. The INIT is padded so that a spoofed INIT
// cannot make a responder send more bytes than it received.
#pragma once

#include "dht/base/datagram.hpp"
#include "overlay/identity.hpp"
#include "overlay/stream/packet_crypto.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace ovl::overlay::stream {

inline constexpr std::size_t init_packet_size = 200;

struct session_keys {
    aead_key send{};
    aead_key receive{};
};

struct handshake_done {
    public_key peer{};
    session_keys keys;
};

// The packet was not a valid message of this exchange (forged, corrupted, replayed by a
// third party): drop it and carry on.
struct handshake_ignored {};
// The exchange cannot succeed (wrong peer); the stream fails with this reason.
struct handshake_failed {
    std::string reason;
};

class initiator_handshake {
public:
    initiator_handshake(const identity& self, std::optional<public_key> expected_peer, std::uint64_t connection_id,
                        random_source& rng);
    ~initiator_handshake();
    initiator_handshake(const initiator_handshake&) = delete;
    initiator_handshake& operator=(const initiator_handshake&) = delete;

    const bytes& init_packet() const { return init_; }

    struct completed {
        handshake_done done;
        bytes finish_packet;
    };
    std::variant<completed, handshake_ignored, handshake_failed> on_response(bytes_view packet);

private:
    const identity& self_;
    std::optional<public_key> expected_;
    std::uint64_t cid_;
    std::array<std::uint8_t, 32> ephemeral_secret_{};
    std::array<std::uint8_t, 32> ephemeral_public_{};
    bytes init_;
};

class responder_handshake {
public:
    responder_handshake(const identity& self, std::uint64_t connection_id, random_source& rng);
    ~responder_handshake();
    responder_handshake(const responder_handshake&) = delete;
    responder_handshake& operator=(const responder_handshake&) = delete;

    // The RESPONSE to send: built on the first INIT, the same bytes again when that INIT
    // is retransmitted, nullopt for anything else.
    std::optional<bytes> on_init(bytes_view packet);
    // The initiator's identity and the keys, or nullopt to drop the packet. Any identity
    // is accepted here: the owner of the stream decides whom it talks to.
    std::optional<handshake_done> on_finish(bytes_view packet);

private:
    const identity& self_;
    std::uint64_t cid_;
    std::array<std::uint8_t, 32> ephemeral_secret_{};
    std::array<std::uint8_t, 32> ephemeral_public_{};
    std::array<std::uint8_t, 32> peer_ephemeral_{};
    std::array<std::uint8_t, 32> shared_{};
    std::array<std::uint8_t, 32> th_r_{};
    aead_key hs_initiator_{};
    bytes response_;
};

bool is_init_packet(bytes_view datagram);

} // namespace ovl::overlay::stream

#include "overlay/stream/handshake.hpp"

#include "overlay/stream/wire.hpp"

#include <sodium.h>

#include <algorithm>
#include <string_view>

namespace ovl::overlay::stream {

namespace {

using hash32 = std::array<std::uint8_t, 32>;

constexpr std::uint8_t protocol_version = 1;
constexpr std::size_t response_size = header_size + 32 + 32 + 64 + aead_tag_size;
constexpr std::size_t finish_size = header_size + 32 + 64 + aead_tag_size;
constexpr std::string_view responder_label = "ovl-stream/1 responder signs";
constexpr std::string_view initiator_label = "ovl-stream/1 initiator signs";

bytes_view as_bytes(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

class hasher {
public:
    explicit hasher(const hash32* key = nullptr) {
        crypto_generichash_init(&state_, key ? key->data() : nullptr, key ? key->size() : 0, 64);
    }
    hasher& add(bytes_view v) {
        crypto_generichash_update(&state_, v.data(), v.size());
        return *this;
    }
    hasher& add(std::string_view s) { return add(as_bytes(s)); }
    hasher& add_u64(std::uint64_t v) {
        bytes b;
        byte_writer(b).u64(v);
        return add(b);
    }
    std::array<std::uint8_t, 64> finish64() {
        std::array<std::uint8_t, 64> out{};
        crypto_generichash_final(&state_, out.data(), out.size());
        return out;
    }
    hash32 finish32() {
        auto full = finish64();
        hash32 out;
        std::copy_n(full.begin(), 32, out.begin());
        sodium_memzero(full.data(), full.size());
        return out;
    }

private:
    crypto_generichash_state state_{};
};

hash32 transcript_start(std::uint64_t cid, const hash32& e_i, const hash32& e_r) {
    return hasher().add("ovl-stream/1 transcript").add_u64(cid).add(e_i).add(e_r).finish32();
}

// Two 32-byte keys from the shared secret, separated by label and bound to a transcript.
std::pair<aead_key, aead_key> derive(const hash32& shared, std::string_view label, const hash32& transcript) {
    auto okm = hasher(&shared).add(label).add(transcript).finish64();
    std::pair<aead_key, aead_key> out;
    std::copy_n(okm.begin(), 32, out.first.begin());
    std::copy_n(okm.begin() + 32, 32, out.second.begin());
    sodium_memzero(okm.data(), okm.size());
    return out;
}

void make_ephemeral(random_source& rng, hash32& secret, hash32& pub) {
    rng.fill(secret);
    crypto_scalarmult_base(pub.data(), secret.data());
}

// False for low-order peer points, whose shared secret would be all zeros.
bool diffie_hellman(const hash32& secret, const hash32& peer_pub, hash32& shared) {
    return crypto_scalarmult(shared.data(), secret.data(), peer_pub.data()) == 0;
}

bytes header(packet_type t, std::uint64_t cid) {
    bytes out;
    byte_writer w(out);
    w.u8(static_cast<std::uint8_t>(t));
    w.u64(cid);
    return out;
}

bytes signed_identity(const identity& self, std::string_view label, const hash32& transcript) {
    bytes msg(as_bytes(label).begin(), as_bytes(label).end());
    msg.insert(msg.end(), transcript.begin(), transcript.end());
    const auto sig = self.sign(msg);
    bytes out(self.public_key_bytes().begin(), self.public_key_bytes().end());
    out.insert(out.end(), sig.begin(), sig.end());
    return out;
}

// Splits an opened identity message and checks its signature over label || transcript.
std::optional<public_key> verified_identity(bytes_view plain, std::string_view label, const hash32& th_before,
                                            hash32& transcript_out) {
    if (plain.size() != 32 + 64) return std::nullopt;
    public_key key;
    signature sig;
    std::copy_n(plain.begin(), 32, key.begin());
    std::copy_n(plain.begin() + 32, 64, sig.begin());
    transcript_out = hasher().add(th_before).add(key).finish32();
    bytes msg(as_bytes(label).begin(), as_bytes(label).end());
    msg.insert(msg.end(), transcript_out.begin(), transcript_out.end());
    if (!verify(key, msg, sig)) return std::nullopt;
    return key;
}

} // namespace

bool is_init_packet(bytes_view d) {
    return d.size() == init_packet_size && d[0] == static_cast<std::uint8_t>(packet_type::init) &&
           d[header_size] == protocol_version &&
           std::all_of(d.begin() + header_size + 1 + 32, d.end(), [](std::uint8_t b) { return b == 0; });
}

initiator_handshake::initiator_handshake(const identity& self, std::optional<public_key> expected_peer,
                                         std::uint64_t connection_id, random_source& rng)
    : self_(self), expected_(expected_peer), cid_(connection_id) {
    make_ephemeral(rng, ephemeral_secret_, ephemeral_public_);
    init_ = header(packet_type::init, cid_);
    init_.push_back(protocol_version);
    init_.insert(init_.end(), ephemeral_public_.begin(), ephemeral_public_.end());
    init_.resize(init_packet_size, 0);
}

initiator_handshake::~initiator_handshake() { sodium_memzero(ephemeral_secret_.data(), ephemeral_secret_.size()); }

std::variant<initiator_handshake::completed, handshake_ignored, handshake_failed>
initiator_handshake::on_response(bytes_view packet) {
    if (packet.size() != response_size || packet[0] != static_cast<std::uint8_t>(packet_type::response) ||
        read_connection_id(packet) != cid_)
        return handshake_ignored{};
    hash32 e_r;
    std::copy_n(packet.begin() + header_size, 32, e_r.begin());
    hash32 shared;
    if (!diffie_hellman(ephemeral_secret_, e_r, shared)) return handshake_ignored{};
    const auto th0 = transcript_start(cid_, ephemeral_public_, e_r);
    auto [hs_i, hs_r] = derive(shared, "ovl-stream/1 handshake keys", th0);
    const auto ad = packet.first(header_size + 32);
    const auto plain = open_once(hs_r, ad, packet.subspan(header_size + 32));
    hash32 th_r;
    const auto peer = plain ? verified_identity(*plain, responder_label, th0, th_r) : std::nullopt;
    if (!peer) {
        sodium_memzero(shared.data(), shared.size());
        return handshake_ignored{};
    }
    if (expected_ && *peer != *expected_) {
        sodium_memzero(shared.data(), shared.size());
        return handshake_failed{"peer key mismatch: expected " + to_hex(*expected_) + ", responder is " +
                                to_hex(*peer)};
    }
    const auto th_i = hasher().add(th_r).add(self_.public_key_bytes()).finish32();
    completed out;
    out.finish_packet = header(packet_type::finish, cid_);
    const auto sealed = seal_once(hs_i, out.finish_packet, signed_identity(self_, initiator_label, th_i));
    out.finish_packet.insert(out.finish_packet.end(), sealed.begin(), sealed.end());
    auto [i2r, r2i] = derive(shared, "ovl-stream/1 application keys", th_i);
    out.done = handshake_done{*peer, session_keys{i2r, r2i}};
    sodium_memzero(shared.data(), shared.size());
    sodium_memzero(ephemeral_secret_.data(), ephemeral_secret_.size());
    return out;
}

responder_handshake::responder_handshake(const identity& self, std::uint64_t connection_id, random_source& rng)
    : self_(self), cid_(connection_id) {
    make_ephemeral(rng, ephemeral_secret_, ephemeral_public_);
}

responder_handshake::~responder_handshake() {
    sodium_memzero(ephemeral_secret_.data(), ephemeral_secret_.size());
    sodium_memzero(shared_.data(), shared_.size());
    sodium_memzero(hs_initiator_.data(), hs_initiator_.size());
}

std::optional<bytes> responder_handshake::on_init(bytes_view packet) {
    if (!is_init_packet(packet) || read_connection_id(packet) != cid_) return std::nullopt;
    const auto e_i = packet.subspan(header_size + 1, 32);
    if (!response_.empty()) {
        if (!std::equal(e_i.begin(), e_i.end(), peer_ephemeral_.begin())) return std::nullopt;
        return response_;
    }
    std::copy(e_i.begin(), e_i.end(), peer_ephemeral_.begin());
    if (!diffie_hellman(ephemeral_secret_, peer_ephemeral_, shared_)) return std::nullopt;
    sodium_memzero(ephemeral_secret_.data(), ephemeral_secret_.size());
    const auto th0 = transcript_start(cid_, peer_ephemeral_, ephemeral_public_);
    auto [hs_i, hs_r] = derive(shared_, "ovl-stream/1 handshake keys", th0);
    hs_initiator_ = hs_i;
    th_r_ = hasher().add(th0).add(self_.public_key_bytes()).finish32();
    response_ = header(packet_type::response, cid_);
    response_.insert(response_.end(), ephemeral_public_.begin(), ephemeral_public_.end());
    const auto sealed = seal_once(hs_r, response_, signed_identity(self_, responder_label, th_r_));
    response_.insert(response_.end(), sealed.begin(), sealed.end());
    sodium_memzero(hs_r.data(), hs_r.size());
    return response_;
}

std::optional<handshake_done> responder_handshake::on_finish(bytes_view packet) {
    if (response_.empty() || packet.size() != finish_size ||
        packet[0] != static_cast<std::uint8_t>(packet_type::finish) || read_connection_id(packet) != cid_)
        return std::nullopt;
    const auto plain = open_once(hs_initiator_, packet.first(header_size), packet.subspan(header_size));
    hash32 th_i;
    const auto peer = plain ? verified_identity(*plain, initiator_label, th_r_, th_i) : std::nullopt;
    if (!peer) return std::nullopt;
    auto [i2r, r2i] = derive(shared_, "ovl-stream/1 application keys", th_i);
    return handshake_done{*peer, session_keys{r2i, i2r}};
}

} // namespace ovl::overlay::stream

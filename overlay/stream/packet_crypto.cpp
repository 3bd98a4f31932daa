#include "overlay/stream/packet_crypto.hpp"

#include "overlay/stream/wire.hpp"

#include <sodium.h>

namespace ovl::overlay::stream {

namespace {

using nonce = std::array<std::uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES>;

nonce nonce_for(std::uint64_t pn) {
    nonce n{};
    for (int i = 0; i < 8; ++i) n[4 + i] = static_cast<std::uint8_t>(pn >> (8 * (7 - i)));
    return n;
}

} // namespace

bool replay_window::seen_or_too_old(std::uint64_t pn) const {
    if (!any_ || pn > highest_) return false;
    if (highest_ - pn >= size) return true;
    return (bits_[(pn % size) / 64] >> (pn % 64)) & 1;
}

void replay_window::mark(std::uint64_t pn) {
    if (!any_ || pn > highest_) {
        // Clear the slots of the numbers we skip over: they now stand for new numbers.
        const std::uint64_t first_new = any_ ? highest_ + 1 : pn;
        if (pn - first_new >= size) {
            bits_.fill(0);
        } else {
            for (std::uint64_t p = first_new; p <= pn; ++p) bits_[(p % size) / 64] &= ~(std::uint64_t{1} << (p % 64));
        }
        highest_ = pn;
        any_ = true;
    }
    bits_[(pn % size) / 64] |= std::uint64_t{1} << (pn % 64);
}

packet_sealer::~packet_sealer() { sodium_memzero(key_.data(), key_.size()); }

bytes packet_sealer::seal(std::uint64_t packet_number, bytes_view plaintext) const {
    bytes out;
    out.reserve(data_header_size + plaintext.size() + aead_tag_size);
    byte_writer w(out);
    w.u8(static_cast<std::uint8_t>(packet_type::data));
    w.u64(cid_);
    w.u64(packet_number);
    out.resize(data_header_size + plaintext.size() + aead_tag_size);
    const auto n = nonce_for(packet_number);
    unsigned long long len = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(out.data() + data_header_size, &len, plaintext.data(), plaintext.size(),
                                              out.data(), data_header_size, nullptr, n.data(), key_.data());
    return out;
}

packet_opener::~packet_opener() { sodium_memzero(key_.data(), key_.size()); }

std::optional<opened_packet> packet_opener::open(bytes_view datagram) {
    if (datagram.size() < data_header_size + aead_tag_size) return std::nullopt;
    byte_reader r(datagram);
    if (r.u8() != static_cast<std::uint8_t>(packet_type::data) || r.u64() != cid_) return std::nullopt;
    const auto pn = r.u64();
    if (window_.seen_or_too_old(pn)) return std::nullopt;
    const auto sealed = datagram.subspan(data_header_size);
    opened_packet out{pn, bytes(sealed.size() - aead_tag_size)};
    const auto n = nonce_for(pn);
    unsigned long long len = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out.plaintext.data(), &len, nullptr, sealed.data(), sealed.size(),
                                                  datagram.data(), data_header_size, n.data(), key_.data()) != 0)
        return std::nullopt;
    window_.mark(pn);
    return out;
}

bytes seal_once(const aead_key& key, bytes_view ad, bytes_view plaintext) {
    bytes out(plaintext.size() + aead_tag_size);
    const nonce n{};
    unsigned long long len = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &len, plaintext.data(), plaintext.size(), ad.data(),
                                              ad.size(), nullptr, n.data(), key.data());
    return out;
}

std::optional<bytes> open_once(const aead_key& key, bytes_view ad, bytes_view sealed) {
    if (sealed.size() < aead_tag_size) return std::nullopt;
    bytes out(sealed.size() - aead_tag_size);
    const nonce n{};
    unsigned long long len = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &len, nullptr, sealed.data(), sealed.size(), ad.data(),
                                                  ad.size(), n.data(), key.data()) != 0)
        return std::nullopt;
    return out;
}

} // namespace ovl::overlay::stream

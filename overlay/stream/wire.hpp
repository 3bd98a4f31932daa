// The secure stream's wire vocabulary: packet types (first byte 0x10-0x1F, so the socket
// owner can tell stream packets from KRPC, punching and relay traffic), sizes, and a
// bounds-checked big-endian reader/writer used by every codec in this folder.
#pragma once

#include "dht/base/datagram.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace ovl::overlay::stream {

enum class packet_type : std::uint8_t {
    init = 0x10,     // initiator's ephemeral key, cleartext, padded (no amplification)
    response = 0x11, // responder's ephemeral key + sealed identity and signature
    finish = 0x12,   // initiator's sealed identity and signature
    data = 0x13,     // frames sealed with the application keys
};

inline constexpr std::size_t header_size = 1 + 8;          // type, connection id
inline constexpr std::size_t data_header_size = 1 + 8 + 8; // type, connection id, packet number
inline constexpr std::size_t aead_tag_size = 16;
// Every datagram we produce fits in this (a UDP payload that crosses any sane path).
inline constexpr std::size_t max_datagram_size = 1200;
inline constexpr std::size_t max_plaintext_size = max_datagram_size - data_header_size - aead_tag_size;

class byte_writer {
public:
    explicit byte_writer(bytes& out) : out_(out) {}
    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) { put(v, 2); }
    void u32(std::uint32_t v) { put(v, 4); }
    void u64(std::uint64_t v) { put(v, 8); }
    void raw(bytes_view v) { out_.insert(out_.end(), v.begin(), v.end()); }

private:
    void put(std::uint64_t v, int n) {
        for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    bytes& out_;
};

// Reads never run past the end: a short read sets failed() and yields zeros/empty.
class byte_reader {
public:
    explicit byte_reader(bytes_view in) : in_(in) {}
    std::uint8_t u8() { return static_cast<std::uint8_t>(get(1)); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(get(2)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(get(4)); }
    std::uint64_t u64() { return get(8); }
    bytes_view raw(std::size_t n) {
        if (n > remaining()) {
            failed_ = true;
            pos_ = in_.size();
            return {};
        }
        auto v = in_.subspan(pos_, n);
        pos_ += n;
        return v;
    }
    std::size_t remaining() const { return in_.size() - pos_; }
    bool failed() const { return failed_; }

private:
    std::uint64_t get(std::size_t n) {
        auto v = raw(n);
        std::uint64_t out = 0;
        for (auto b : v) out = (out << 8) | b;
        return out;
    }
    bytes_view in_;
    std::size_t pos_ = 0;
    bool failed_ = false;
};

// The connection id every stream packet carries in clear after its type byte.
inline std::optional<std::uint64_t> read_connection_id(bytes_view datagram) {
    if (datagram.size() < header_size || datagram[0] < 0x10 || datagram[0] > 0x1F) return std::nullopt;
    byte_reader r(datagram.subspan(1, 8));
    return r.u64();
}

} // namespace ovl::overlay::stream

// Bytes <-> KRPC messages. Decoding never throws and never trusts the input: it
// reports why a datagram is unusable and whether it is still worth an error reply
// (a query whose transaction id we could read) or must be dropped silently (anything
// else, so that garbage never makes us send: no amplification).
#pragma once

#include "dht/krpc/message.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace ovl::krpc {

// The longest transaction id we echo back; longer ids are a protocol error.
inline constexpr std::size_t max_transaction_id = 16;

struct decode_failure {
    std::string reason;
    // Set when the datagram was a readable query: reply with this KRPC error.
    std::optional<message> error_reply;
};

using decode_result = std::variant<message, decode_failure>;

decode_result decode(std::span<const std::uint8_t> datagram);
std::vector<std::uint8_t> encode(const message& m);

} // namespace ovl::krpc

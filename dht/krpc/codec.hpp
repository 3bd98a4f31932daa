// Bytes <-> KRPC messages. Decoding never throws and never trusts the input: it
// reports why a datagram is unusable and whether it is still worth an error reply
// (a query whose transaction id we could read) or must be dropped silently (anything
// else, so that garbage never makes us send: no amplification).
#pragma once

#include "dht/bencode/decode.hpp"
#include "dht/krpc/message.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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
// The same, for a datagram the reader has already parsed successfully.
decode_result decode(const bencode::flat_reader& parsed);
std::vector<std::uint8_t> encode(const message& m);

// Nearly all of a public node's load is ping, find_node and get_peers, answered from a
// handful of fields. These are read straight from the flat parse, with no tree, and the
// answer is written straight to bytes.
// What every well-formed query carries: "y" = "q", a transaction id no longer than
// max_transaction_id, a method name, a 20-byte "a"."id", and "ro" (BEP 43).
struct query_header {
    std::string_view transaction_id;
    std::string_view method;
    std::string_view sender_id;
    bool read_only = false;
};
// Read once per datagram from the flat reader; nullopt when a field is missing or
// malformed (the full decode() then answers with the right error).
std::optional<query_header> read_query_header(const bencode::flat_reader& parsed);

struct simple_query {
    std::string_view transaction_id;
    std::string_view method;
    std::string_view sender_id;
    // find_node's "target" or get_peers' "info_hash"; empty for ping.
    std::string_view target;
    bool read_only = false;
    // BEP 32 "want" names "n4" / "n6".
    bool want_n4 = false;
    bool want_n6 = false;
};

// A well-formed ping, find_node or get_peers (20-byte target), with the fields decode()
// would read for it; nullopt for anything else, which then goes through decode() and its
// error replies.
std::optional<simple_query> read_simple_query(const bencode::flat_reader& parsed, const query_header& header);

struct simple_response {
    std::string_view transaction_id;
    endpoint observed;
    std::string_view id;
    // Each present only when set; `values` only when not empty.
    std::optional<std::string_view> nodes;
    std::optional<std::string_view> nodes6;
    std::optional<std::string_view> token;
    std::span<const endpoint> values;
    std::string_view version;
};

// Exactly the bytes encode() gives for the response message with these values.
void encode_simple_response(const simple_response& r, std::vector<std::uint8_t>& out);

} // namespace ovl::krpc

// The BEP 5 query arguments and response values, built and read as typed values.
// Readers treat every field as untrusted: wrong types or lengths read as absent.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/bencode/value.hpp"
#include "dht/mutable_item.hpp"
#include "dht/node_id.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ovl::dht {

struct contact {
    node_id id;
    endpoint ep;
};

namespace method {
inline constexpr const char* ping = "ping";
inline constexpr const char* find_node = "find_node";
inline constexpr const char* get_peers = "get_peers";
inline constexpr const char* announce_peer = "announce_peer";
// BEP 44.
inline constexpr const char* get = "get";
inline constexpr const char* put = "put";
} // namespace method

bencode::dict ping_args(const node_id& self);
bencode::dict find_node_args(const node_id& self, const node_id& target);
bencode::dict get_peers_args(const node_id& self, const node_id& info_hash);
bencode::dict announce_args(const node_id& self, const node_id& info_hash, std::uint16_t port, bool implied_port,
                            const std::string& token);
// BEP 44 get; with `seq`, nodes holding an item no newer than that omit its value.
bencode::dict get_item_args(const node_id& self, const node_id& target, std::optional<std::int64_t> seq);
// BEP 44 put of a mutable item; `v` is item.value decoded.
bencode::dict put_item_args(const node_id& self, const std::string& token, const mutable_item& item,
                            const bencode::value& v);
// The mutable item (k, seq, sig, v) in a get response or put query, without checking its
// signature; nullopt when a field is missing or malformed.
std::optional<mutable_item> read_item(const bencode::dict& body, std::string_view salt);

// The "id" every query and response carries.
std::optional<node_id> sender_id(const bencode::dict& body);
std::optional<node_id> read_id(const bencode::dict& body, const char* key);

// Compact node infos ("nodes", 26 bytes each for IPv4); malformed entries are skipped.
std::string encode_nodes(const std::vector<contact>& nodes);
std::vector<contact> decode_nodes(const bencode::dict& body);
// Compact peers ("values"); malformed entries are skipped, at most `max` are read.
bencode::list encode_values(const std::vector<endpoint>& peers);
std::vector<endpoint> decode_values(const bencode::dict& body, std::size_t max = 200);

} // namespace ovl::dht

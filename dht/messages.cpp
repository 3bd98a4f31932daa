#include "dht/messages.hpp"

#include "dht/bencode/encode.hpp"
#include "dht/krpc/compact.hpp"

#include <algorithm>

namespace ovl::dht {

bencode::dict ping_args(const node_id& self) { return {{"id", self.to_bytes()}}; }

bencode::dict find_node_args(const node_id& self, const node_id& target) {
    return {{"id", self.to_bytes()}, {"target", target.to_bytes()}};
}

bencode::dict get_peers_args(const node_id& self, const node_id& info_hash) {
    return {{"id", self.to_bytes()}, {"info_hash", info_hash.to_bytes()}};
}

bencode::dict announce_args(const node_id& self, const node_id& info_hash, std::uint16_t port, bool implied_port,
                            const std::string& token) {
    bencode::dict d{{"id", self.to_bytes()},
                    {"info_hash", info_hash.to_bytes()},
                    {"port", std::int64_t{port}},
                    {"token", token}};
    if (implied_port) d.emplace("implied_port", 1);
    return d;
}

bencode::dict get_item_args(const node_id& self, const node_id& target, std::optional<std::int64_t> seq) {
    bencode::dict d{{"id", self.to_bytes()}, {"target", target.to_bytes()}};
    if (seq) d.emplace("seq", *seq);
    return d;
}

bencode::dict put_item_args(const node_id& self, const std::string& token, const mutable_item& item,
                            const bencode::value& v) {
    bencode::dict d{{"id", self.to_bytes()},
                    {"token", token},
                    {"k", std::string(item.key.begin(), item.key.end())},
                    {"seq", item.seq},
                    {"sig", std::string(item.sig.begin(), item.sig.end())},
                    {"v", v}};
    if (!item.salt.empty()) d.emplace("salt", item.salt);
    return d;
}

std::optional<mutable_item> read_item(const bencode::dict& body, std::string_view salt) {
    const auto* k = bencode::find_string(body, "k");
    const auto* seq = bencode::find_int(body, "seq");
    const auto* sig = bencode::find_string(body, "sig");
    auto v = body.find("v");
    if (!k || k->size() != 32 || !seq || !sig || sig->size() != 64 || v == body.end()) return std::nullopt;
    mutable_item item;
    std::copy(k->begin(), k->end(), item.key.begin());
    std::copy(sig->begin(), sig->end(), item.sig.begin());
    item.salt = salt;
    item.seq = *seq;
    const auto encoded = bencode::encode(v->second);
    item.value.assign(encoded.begin(), encoded.end());
    return item;
}

std::optional<node_id> read_id(const bencode::dict& body, const char* key) {
    const auto* s = bencode::find_string(body, key);
    return s ? node_id::from_bytes(*s) : std::nullopt;
}

std::optional<node_id> sender_id(const bencode::dict& body) { return read_id(body, "id"); }

address_families reply_families(const ip_address& querier, bool want_n4, bool want_n6) {
    if (!want_n4 && !want_n6) return address_families::of(querier.family());
    return {want_n4, want_n6};
}

address_families read_want(const bencode::dict& args, const ip_address& querier) {
    bool n4 = false, n6 = false;
    if (const auto* want = bencode::find_list(args, "want")) {
        for (const auto& w : *want) {
            const auto* s = w.as_string();
            if (!s) continue;
            n4 = n4 || *s == "n4";
            n6 = n6 || *s == "n6";
        }
    }
    return reply_families(querier, n4, n6);
}

bencode::list want_both() { return {bencode::value("n4"), bencode::value("n6")}; }

bool acceptable_v6_remote(const ip_address& a) { return a.is_v6() && (a.is_global() || a.is_loopback()); }

namespace {

std::string encode_family(const std::vector<contact>& nodes, ip_family family) {
    std::string out;
    for (const auto& n : nodes) {
        if (n.ep.address.family() != family) continue;
        out += n.id.to_bytes();
        out += krpc::compact_endpoint(n.ep);
    }
    return out;
}

std::vector<contact> decode_family(const bencode::dict& body, const char* key, std::size_t entry) {
    std::vector<contact> out;
    const auto* s = bencode::find_string(body, key);
    if (!s) return out;
    // A reply carries at most a few dozen nodes; ignore a trailing partial entry.
    const std::size_t count = std::min<std::size_t>(s->size() / entry, 64);
    out.reserve(count);
    std::string_view all(*s);
    for (std::size_t i = 0; i < count; ++i) {
        auto id = node_id::from_bytes(all.substr(i * entry, node_id::size));
        auto ep = krpc::parse_compact_endpoint(all.substr(i * entry + node_id::size, entry - node_id::size));
        if (!id || !ep || ep->port == 0) continue;
        if (ep->address.is_v6() && !acceptable_v6_remote(ep->address)) continue;
        out.push_back({*id, *ep});
    }
    return out;
}

} // namespace

std::string encode_nodes(const std::vector<contact>& nodes) { return encode_family(nodes, ip_family::v4); }

std::string encode_nodes6(const std::vector<contact>& nodes) { return encode_family(nodes, ip_family::v6); }

std::vector<contact> decode_nodes(const bencode::dict& body) { return decode_family(body, "nodes", 26); }

std::vector<contact> decode_nodes6(const bencode::dict& body) {
    // Unlike "nodes", a misaligned "nodes6" is refused whole: it is usually IPv4 node
    // infos under the wrong key, which would read as garbage ids at garbage addresses.
    const auto* s = bencode::find_string(body, "nodes6");
    if (!s || s->size() % 38 != 0) return {};
    return decode_family(body, "nodes6", 38);
}

bencode::list encode_values(const std::vector<endpoint>& peers) {
    bencode::list out;
    out.reserve(peers.size());
    for (const auto& p : peers) out.emplace_back(krpc::compact_endpoint(p));
    return out;
}

std::vector<endpoint> decode_values(const bencode::dict& body, std::size_t max) {
    std::vector<endpoint> out;
    const auto* l = bencode::find_list(body, "values");
    if (!l) return out;
    for (const auto& v : *l) {
        if (out.size() >= max) break;
        const auto* s = v.as_string();
        if (!s) continue;
        auto ep = krpc::parse_compact_endpoint(*s);
        if (!ep || ep->port == 0) continue;
        if (ep->address.is_v6() && !acceptable_v6_remote(ep->address)) continue;
        out.push_back(*ep);
    }
    return out;
}

} // namespace ovl::dht

#include "overlay/contact_record.hpp"

#include "dht/krpc/compact.hpp"

namespace ovl::overlay {

namespace {
constexpr std::size_t max_endpoints = 8;
constexpr std::size_t max_transports = 4;

bencode::list endpoints_of(const std::vector<endpoint>& eps) {
    bencode::list out;
    for (const auto& ep : eps)
        if (out.size() < max_endpoints) out.emplace_back(krpc::compact_endpoint(ep));
    return out;
}

enum class scope { global, lan };

// Neither test admits IPv4-mapped IPv6 addresses (::ffff:0:0/96 lies outside 2000::/3).
bool allowed(const endpoint& ep, scope where) {
    if (ep.port == 0) return false;
    if (where == scope::global) return ep.address.is_global();
    return ep.address.is_private() || ep.address.is_shared();
}

std::optional<std::vector<endpoint>> read_endpoints(const bencode::dict& d, const char* key, scope where,
                                                    std::string& why) {
    std::vector<endpoint> out;
    auto it = d.find(key);
    if (it == d.end()) return out;
    const auto* l = it->second.as_list();
    if (!l || l->size() > max_endpoints) {
        why = std::string("\"") + key + "\" is not a list of at most 8 endpoints";
        return std::nullopt;
    }
    for (const auto& v : *l) {
        const auto* s = v.as_string();
        auto ep = s ? krpc::parse_compact_endpoint(*s) : std::nullopt;
        if (!ep) {
            why = std::string("\"") + key + "\" holds an entry that is not a compact endpoint (6 or 18 bytes)";
            return std::nullopt;
        }
        if (!allowed(*ep, where)) {
            why = std::string("\"") + key + "\" holds " + ep->to_string() +
                  (where == scope::global ? ", not a global unicast endpoint" : ", not a private LAN endpoint");
            return std::nullopt;
        }
        out.push_back(*ep);
    }
    return out;
}
} // namespace

bencode::value contact_record::encode() const {
    bencode::list t;
    for (const auto& s : transports)
        if (t.size() < max_transports) t.emplace_back(s.substr(0, 16));
    return bencode::dict{{"o", endpoints_of(observed)},
                         {"l", endpoints_of(lan)},
                         {"n", nat.substr(0, 32)},
                         {"i", endpoints_of(introducers)},
                         {"t", std::move(t)},
                         {"ttl", static_cast<std::int64_t>(ttl.count())}};
}

std::optional<contact_record> contact_record::decode(const bencode::value& v, std::string* why) {
    std::string reason;
    auto fail = [&](std::string r) -> std::optional<contact_record> {
        if (why) *why = std::move(r);
        return std::nullopt;
    };
    const auto* d = v.as_dict();
    if (!d) return fail("not a dictionary");
    contact_record r;
    auto observed = read_endpoints(*d, "o", scope::global, reason);
    if (!observed) return fail(reason);
    auto lan = read_endpoints(*d, "l", scope::lan, reason);
    if (!lan) return fail(reason);
    auto introducers = read_endpoints(*d, "i", scope::global, reason);
    if (!introducers) return fail(reason);
    const auto* nat = bencode::find_string(*d, "n");
    const auto* ttl = bencode::find_int(*d, "ttl");
    if (!nat || nat->size() > 32) return fail("\"n\" missing or longer than 32 bytes");
    if (!ttl || *ttl <= 0 || *ttl > 86400) return fail("\"ttl\" missing or outside 1..86400 s");
    r.observed = std::move(*observed);
    r.lan = std::move(*lan);
    r.introducers = std::move(*introducers);
    r.nat = *nat;
    r.ttl = std::chrono::seconds(*ttl);
    if (auto it = d->find("t"); it != d->end()) {
        const auto* t = it->second.as_list();
        if (!t || t->size() > max_transports) return fail("\"t\" is not a list of at most 4 transports");
        for (const auto& s : *t) {
            const auto* str = s.as_string();
            if (!str || str->size() > 16) return fail("\"t\" holds a transport that is not a string of at most 16 bytes");
            r.transports.push_back(*str);
        }
    }
    return r;
}

} // namespace ovl::overlay

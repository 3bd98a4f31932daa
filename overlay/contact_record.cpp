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

std::optional<std::vector<endpoint>> read_endpoints(const bencode::dict& d, const char* key) {
    std::vector<endpoint> out;
    auto it = d.find(key);
    if (it == d.end()) return out;
    const auto* l = it->second.as_list();
    if (!l) return std::nullopt;
    if (l->size() > max_endpoints) return std::nullopt;
    for (const auto& v : *l) {
        const auto* s = v.as_string();
        auto ep = s ? krpc::parse_compact_endpoint(*s) : std::nullopt;
        if (!ep) return std::nullopt;
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

std::optional<contact_record> contact_record::decode(const bencode::value& v) {
    const auto* d = v.as_dict();
    if (!d) return std::nullopt;
    contact_record r;
    auto observed = read_endpoints(*d, "o");
    auto lan = read_endpoints(*d, "l");
    auto introducers = read_endpoints(*d, "i");
    const auto* nat = bencode::find_string(*d, "n");
    const auto* ttl = bencode::find_int(*d, "ttl");
    if (!observed || !lan || !introducers || !nat || nat->size() > 32 || !ttl || *ttl <= 0 || *ttl > 86400)
        return std::nullopt;
    r.observed = std::move(*observed);
    r.lan = std::move(*lan);
    r.introducers = std::move(*introducers);
    r.nat = *nat;
    r.ttl = std::chrono::seconds(*ttl);
    if (auto it = d->find("t"); it != d->end()) {
        const auto* t = it->second.as_list();
        if (!t || t->size() > max_transports) return std::nullopt;
        for (const auto& s : *t) {
            const auto* str = s.as_string();
            if (!str || str->size() > 16) return std::nullopt;
            r.transports.push_back(*str);
        }
    }
    return r;
}

} // namespace ovl::overlay

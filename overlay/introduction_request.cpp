#include "overlay/introduction_request.hpp"

#include "dht/bencode/writer.hpp"
#include "dht/krpc/compact.hpp"
#include "overlay/methods.hpp"

namespace ovl::overlay {

namespace {

// The arguments of a decoded query.
struct tree_args {
    const bencode::dict& args;

    std::optional<std::string_view> string(std::string_view key) const {
        const auto* s = bencode::find_string(args, key);
        return s ? std::optional<std::string_view>(*s) : std::nullopt;
    }
    std::optional<std::size_t> strings(std::string_view key, std::vector<std::string_view>& out) const {
        out.clear();
        const auto* l = bencode::find_list(args, key);
        if (!l) return std::nullopt;
        for (const auto& v : *l)
            if (const auto* s = v.as_string()) out.emplace_back(*s);
        return l->size();
    }
};

// The arguments ("a") of a query's flat parse.
struct flat_args {
    const bencode::flat_reader& query;

    std::optional<std::string_view> string(std::string_view key) const { return query.find_string("a", key); }
    std::optional<std::size_t> strings(std::string_view key, std::vector<std::string_view>& out) const {
        return query.list_strings("a", key, out);
    }
};

std::optional<public_key> key_in(const std::optional<std::string_view>& s) {
    return s ? public_key_from_bytes(*s) : std::nullopt;
}

template <std::size_t N>
void read_endpoints(std::span<const std::string_view> items, endpoint_set<N>& out) {
    for (const auto item : items) {
        if (out.full()) break;
        if (auto ep = krpc::parse_compact_endpoint(item); ep && ep->port != 0) out.push(*ep);
    }
}

template <typename Args>
std::optional<introduction_request> read(const Args& a, std::vector<std::string_view>& scratch) {
    introduction_request r;
    const auto k = a.string("k");
    const auto requester = key_in(k);
    const auto target = key_in(a.string("t"));
    const auto sid = a.string("sid");
    if (!requester || !target || !sid || sid->size() != 8) return std::nullopt;
    r.requester = *requester;
    r.target = *target;
    r.requester_bytes = *k;
    r.sid = *sid;
    r.token = a.string("tok");
    if (const auto nat = a.string("nat")) r.nat = nat->substr(0, 32);
    if (const auto ep6 = a.string("ep6"); ep6 && ep6->size() == 18) {
        auto ep = krpc::parse_compact_endpoint(*ep6);
        if (ep && ep->address.is_v6() && ep->address.is_global() && ep->port != 0) r.ipv6 = ep;
    }
    r.tcp = a.string("tr") == "tcp";
    if (const auto ctx = a.string("ctx"); ctx && ctx->size() <= 32) r.context = ctx;
    if (a.strings("lan", scratch)) read_endpoints(scratch, r.lan);
    if (const auto n = a.strings("pred", scratch); n && *n > 0) {
        r.predictions_given = true;
        read_endpoints(scratch, r.predictions);
    }
    return r;
}

void compact(bencode::writer& w, const endpoint& ep) {
    std::uint8_t buf[18];
    w.string(std::span<const std::uint8_t>(buf, krpc::write_compact_endpoint(ep, buf)));
}

void endpoints(bencode::writer& w, std::span<const endpoint> eps) {
    w.list();
    for (const auto& ep : eps) compact(w, ep);
    w.end();
}

std::string_view id_bytes(const dht::node_id& id) {
    return {reinterpret_cast<const char*>(id.bytes().data()), dht::node_id::size};
}

} // namespace

std::optional<introduction_request> read_introduction(const bencode::dict& args) {
    std::vector<std::string_view> scratch;
    return read(tree_args{args}, scratch);
}

std::optional<introduction_request> read_introduction(const bencode::flat_reader& query,
                                                      std::vector<std::string_view>& scratch) {
    return read(flat_args{query}, scratch);
}

void write_introduction_notice(bytes& out, const krpc_sender& self, std::string_view tid,
                               const introduction_request& request, const endpoint& requester, bool relayed) {
    // Room for a usual notice: one allocation.
    out.reserve(out.size() + 512);
    // Keys in canonical (sorted) order at every level, as encode() writes them.
    bencode::writer w(out);
    w.dict().string("a").dict();
    if (request.context) w.entry("ctx", *request.context);
    w.string("ep");
    compact(w, requester);
    if (request.ipv6) {
        w.string("ep6");
        compact(w, *request.ipv6);
    }
    w.entry("id", id_bytes(self.id)).entry("k", request.requester_bytes).string("lan");
    endpoints(w, request.lan.view());
    if (request.nat) w.entry("nat", *request.nat);
    if (request.predictions_given) {
        w.string("pred");
        endpoints(w, request.predictions.view());
    }
    if (relayed) w.string("relay").integer(1);
    w.entry("sid", request.sid);
    if (request.tcp) w.entry("tr", "tcp");
    w.end().entry("q", method::introduction);
    if (self.read_only) w.string("ro").integer(1);
    w.entry("t", tid);
    if (!self.version.empty()) w.entry("v", self.version);
    w.entry("y", "q").end();
}

void write_introduction_reply(bytes& out, const krpc_sender& self, std::string_view tid, const endpoint& requester,
                              std::string_view sid, const registration& target) {
    out.reserve(out.size() + 256);
    bencode::writer w(out);
    w.dict().string("ip");
    compact(w, requester);
    w.string("r").dict().string("ep");
    compact(w, target.observed);
    if (target.ipv6) {
        w.string("ep6");
        compact(w, *target.ipv6);
    }
    w.entry("id", id_bytes(self.id)).string("lan");
    endpoints(w, target.lan);
    w.entry("nat", target.nat);
    if (target.port_delta != 0) w.string("pd").integer(target.port_delta);
    w.entry("sid", sid).end().entry("t", tid);
    if (!self.version.empty()) w.entry("v", self.version);
    w.entry("y", "r").end();
}

} // namespace ovl::overlay

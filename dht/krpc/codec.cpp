#include "dht/krpc/codec.hpp"

#include "dht/bencode/decode.hpp"
#include "dht/bencode/encode.hpp"
#include "dht/krpc/compact.hpp"

#include <charconv>
#include <cstring>

namespace ovl::krpc {

namespace {

decode_failure drop(std::string reason) { return decode_failure{std::move(reason), std::nullopt}; }

decode_failure reply_error(const std::string& tid, int code, std::string reason) {
    auto err = message::error(tid, code, reason);
    return decode_failure{std::move(reason), std::move(err)};
}

} // namespace

decode_result decode(std::span<const std::uint8_t> datagram) {
    std::string why;
    bencode::flat_reader reader;
    if (!reader.parse(datagram, &why)) return drop("not bencode: " + why);
    return decode(reader);
}

decode_result decode(const bencode::flat_reader& parsed) {
    const auto root = parsed.tree();
    const auto* d = root.as_dict();
    if (!d) return drop("not a dictionary");

    const auto* tid = bencode::find_string(*d, "t");
    if (!tid) return drop("missing transaction id");
    if (tid->size() > max_transaction_id) return drop("transaction id too long");
    const auto* y = bencode::find_string(*d, "y");
    if (!y || y->size() != 1) {
        // Without a type we cannot tell a query from a reply; answering could bounce
        // errors between two nodes forever, so drop.
        return drop("missing message type");
    }

    message m;
    m.transaction_id = *tid;
    if (const auto* v = bencode::find_string(*d, "v")) m.version = v->substr(0, 16);

    switch ((*y)[0]) {
    case 'q': {
        m.kind = message_kind::query;
        const auto* q = bencode::find_string(*d, "q");
        if (!q || q->empty() || q->size() > 64) return reply_error(*tid, protocol_error, "missing or bad method name");
        m.method = *q;
        const auto* a = bencode::find_dict(*d, "a");
        if (!a) return reply_error(*tid, protocol_error, "missing arguments");
        m.body = *a;
        if (const auto* ro = bencode::find_int(*d, "ro")) m.read_only = (*ro == 1);
        return m;
    }
    case 'r': {
        m.kind = message_kind::response;
        const auto* r = bencode::find_dict(*d, "r");
        if (!r) return drop("response without values");
        m.body = *r;
        break;
    }
    case 'e': {
        m.kind = message_kind::error;
        const auto* e = bencode::find_list(*d, "e");
        if (e && e->size() >= 1) {
            if (const auto* code = (*e)[0].as_int()) m.error_code = static_cast<int>(*code);
            if (e->size() >= 2)
                if (const auto* text = (*e)[1].as_string()) m.error_message = text->substr(0, 256);
        }
        break;
    }
    default:
        return drop("unknown message type");
    }
    if (const auto* ip = bencode::find_string(*d, "ip")) m.observed = parse_compact_endpoint(*ip);
    return m;
}

std::optional<query_header> read_query_header(const bencode::flat_reader& parsed) {
    const auto y = parsed.find_string("y");
    if (!y || *y != "q") return std::nullopt;
    const auto t = parsed.find_string("t");
    const auto method = parsed.find_string("q");
    const auto id = parsed.find_string("a", "id");
    if (!t || t->size() > max_transaction_id || !method || !id || id->size() != 20) return std::nullopt;
    const auto ro = parsed.find_int("ro");
    return query_header{*t, *method, *id, ro && *ro == 1};
}

std::optional<simple_query> read_simple_query(const bencode::flat_reader& parsed, const query_header& header) {
    simple_query q;
    q.transaction_id = header.transaction_id;
    q.method = header.method;
    q.sender_id = header.sender_id;
    q.read_only = header.read_only;
    if (q.method == "find_node" || q.method == "get_peers") {
        const auto target = parsed.find_string("a", q.method == "find_node" ? "target" : "info_hash");
        if (!target || target->size() != 20) return std::nullopt;
        q.target = *target;
    } else if (q.method != "ping") {
        return std::nullopt;
    }
    q.want_n4 = parsed.list_contains("a", "want", "n4");
    q.want_n6 = parsed.list_contains("a", "want", "n6");
    return q;
}

namespace {

// Writes into a buffer already sized for everything, so encoding allocates only once.
class writer {
public:
    explicit writer(std::uint8_t* at) : at_(at) {}
    void raw(std::string_view s) {
        std::memcpy(at_, s.data(), s.size());
        at_ += s.size();
    }
    void string(std::string_view s) {
        char digits[20];
        const auto end = std::to_chars(digits, digits + sizeof digits, s.size()).ptr;
        raw({digits, static_cast<std::size_t>(end - digits)});
        *at_++ = ':';
        raw(s);
    }
    void endpoint_string(const endpoint& ep) {
        *at_++ = ep.address.is_v4() ? '6' : '1';
        if (!ep.address.is_v4()) *at_++ = '8';
        *at_++ = ':';
        std::memcpy(at_, ep.address.data(), ep.address.size());
        at_ += ep.address.size();
        *at_++ = static_cast<std::uint8_t>(ep.port >> 8);
        *at_++ = static_cast<std::uint8_t>(ep.port & 0xff);
    }

private:
    std::uint8_t* at_;
};

std::size_t string_size(std::size_t n) { return std::to_string(n).size() + 1 + n; }
std::size_t endpoint_string_size(const endpoint& ep) { return ep.address.is_v4() ? 8 : 21; }

} // namespace

void encode_simple_response(const simple_response& r, std::vector<std::uint8_t>& out) {
    std::size_t size = 5 + endpoint_string_size(r.observed) + 8 + string_size(r.id.size()) + 4 + string_size(r.transaction_id.size()) + 7;
    if (r.nodes) size += 7 + string_size(r.nodes->size());
    if (r.nodes6) size += 8 + string_size(r.nodes6->size());
    if (r.token) size += 7 + string_size(r.token->size());
    if (!r.values.empty()) {
        size += 10;
        for (const auto& p : r.values) size += endpoint_string_size(p);
    }
    if (!r.version.empty()) size += 3 + string_size(r.version.size());
    const auto old = out.size();
    out.resize(old + size);
    // Keys in canonical (sorted) order, at both levels.
    writer w(out.data() + old);
    w.raw("d2:ip");
    w.endpoint_string(r.observed);
    w.raw("1:rd2:id");
    w.string(r.id);
    if (r.nodes) w.raw("5:nodes"), w.string(*r.nodes);
    if (r.nodes6) w.raw("6:nodes6"), w.string(*r.nodes6);
    if (r.token) w.raw("5:token"), w.string(*r.token);
    if (!r.values.empty()) {
        w.raw("6:valuesl");
        for (const auto& p : r.values) w.endpoint_string(p);
        w.raw("e");
    }
    w.raw("e1:t");
    w.string(r.transaction_id);
    if (!r.version.empty()) w.raw("1:v"), w.string(r.version);
    w.raw("1:y1:re");
}

std::vector<std::uint8_t> encode(const message& m) {
    bencode::dict root;
    root.emplace("t", m.transaction_id);
    if (!m.version.empty()) root.emplace("v", m.version);
    switch (m.kind) {
    case message_kind::query:
        root.emplace("y", "q");
        root.emplace("q", m.method);
        root.emplace("a", m.body);
        if (m.read_only) root.emplace("ro", 1);
        break;
    case message_kind::response:
        root.emplace("y", "r");
        root.emplace("r", m.body);
        break;
    case message_kind::error:
        root.emplace("y", "e");
        root.emplace("e", bencode::list{bencode::value(std::int64_t{m.error_code}), bencode::value(m.error_message)});
        break;
    }
    if (m.kind != message_kind::query && m.observed) root.emplace("ip", compact_endpoint(*m.observed));
    return bencode::encode(bencode::value(std::move(root)));
}

} // namespace ovl::krpc

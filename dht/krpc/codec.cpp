#include "dht/krpc/codec.hpp"

#include "dht/bencode/decode.hpp"
#include "dht/bencode/encode.hpp"
#include "dht/krpc/compact.hpp"

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
    auto root = bencode::decode(datagram, &why);
    if (!root) return drop("not bencode: " + why);
    const auto* d = root->as_dict();
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

// The node's BEP 44 side: answering get and put for the items it stores, and getting and
// putting items in the network. Registered as ordinary query extensions in the
// constructor, so node.cpp's built-in methods stay as they were.
#include "dht/node.hpp"

#include "dht/bencode/decode.hpp"
#include "dht/bencode/encode.hpp"

#include <memory>

namespace ovl::dht {

namespace {
// BEP 44's texts for its error codes.
const char* describe(put_status status) {
    switch (status) {
    case put_status::ok:
        return "ok";
    case put_status::value_too_big:
        return "message (v field) too big";
    case put_status::bad_signature:
        return "invalid signature";
    case put_status::salt_too_big:
        return "salt (salt field) too big";
    case put_status::cas_mismatch:
        return "the CAS hash mismatched, re-read value and try again";
    case put_status::seq_too_old:
        return "sequence number less than current";
    }
    return "refused";
}

std::string to_string(std::span<const std::uint8_t> bytes) { return {bytes.begin(), bytes.end()}; }
} // namespace

query_reply node::answer_get(timestamp now, const endpoint& from, const krpc::message& query) {
    auto target = read_id(query.body, "target");
    if (!target) return query_reply::error(krpc::protocol_error, "missing or malformed target");
    bencode::dict r{{"token", tokens_.issue(now, from.address, *target)}};
    add_closest_nodes(*target, read_want(query.body, from.address), r);
    if (const auto* item = items_.get(now, *target)) {
        r.emplace("seq", item->seq);
        // A requester that already holds this seq or a newer one does not need the value.
        const auto* known = bencode::find_int(query.body, "seq");
        if (!known || *known < item->seq) {
            const auto* raw = reinterpret_cast<const std::uint8_t*>(item->value.data());
            if (auto v = bencode::decode(std::span(raw, item->value.size()))) {
                r.emplace("k", to_string(item->key));
                r.emplace("sig", to_string(item->sig));
                r.emplace("v", std::move(*v));
            }
        }
    }
    return query_reply::respond(std::move(r));
}

query_reply node::answer_put(timestamp now, const endpoint& from, const krpc::message& query) {
    const auto& a = query.body;
    const auto* token = bencode::find_string(a, "token");
    if (!token) return query_reply::error(krpc::protocol_error, "missing token");
    if (a.find("k") == a.end()) return query_reply::error(krpc::protocol_error, "immutable items are not stored");
    const auto* salt = bencode::find_string(a, "salt");
    const std::string_view salt_view = salt ? std::string_view(*salt) : std::string_view();
    if (salt_view.size() > max_item_salt)
        return query_reply::error(static_cast<int>(put_status::salt_too_big), describe(put_status::salt_too_big));
    auto item = read_item(a, salt_view);
    if (!item) return query_reply::error(krpc::protocol_error, "missing or malformed k, seq, sig or v");
    if (item->value.size() > max_item_value)
        return query_reply::error(static_cast<int>(put_status::value_too_big), describe(put_status::value_too_big));
    // The token is cheap to check and binds the put to the requester's address, so check
    // it before the signature.
    if (!tokens_.accepts(now, from.address, item_target(item->key, salt_view), *token))
        return query_reply::error(krpc::protocol_error, "bad token");
    std::optional<std::int64_t> cas;
    if (const auto* c = bencode::find_int(a, "cas")) cas = *c;
    const auto status = items_.put(now, *item, cas);
    if (status != put_status::ok) return query_reply::error(static_cast<int>(status), describe(status));
    return query_reply::respond({});
}

void node::get_item(timestamp now, const public_key& key, std::string_view salt, item_callback done) {
    auto t = make_lookup(
        traversal::kind::get_item, item_target(key, salt),
        [done = std::move(done)](timestamp t2, const lookup_result& r) {
            if (done) done(t2, r.item, r);
        },
        false, config_.families);
    t->expect_item(key, std::string(salt), std::nullopt);
    t->start(now);
}

void node::put_item(timestamp now, const public_key& key, std::string_view salt, std::int64_t seq,
                    const bencode::value& v, const item_signer& signer, put_item_callback done) {
    mutable_item item;
    item.key = key;
    item.salt = salt;
    item.seq = seq;
    item.value = to_string(bencode::encode(v));
    put_item_result refused;
    if (item.value.size() > max_item_value) {
        refused.status = put_status::value_too_big;
    } else if (item.salt.size() > max_item_salt) {
        refused.status = put_status::salt_too_big;
    } else {
        item.sig = sign_item(signer, item.salt, item.seq, item.value);
        if (!verify_item(item)) refused.status = put_status::bad_signature;
    }
    if (refused.status != put_status::ok) {
        if (done) done(now, refused);
        return;
    }
    auto t = make_lookup(
        traversal::kind::get_item, item_target(key, salt),
        [this, item, v, done = std::move(done)](timestamp t2, const lookup_result& r) {
            struct progress {
                put_item_result result;
                std::size_t waiting = 0;
                put_item_callback done;
            };
            auto state = std::make_shared<progress>();
            state->result.lookup = r;
            state->done = done;
            for (std::size_t i = 0; i < r.closest.size(); ++i) {
                if (r.tokens[i].empty()) continue;
                bool sent = send_query(
                    t2, r.closest[i].ep, method::put, put_item_args(config_.id, r.tokens[i], item, v),
                    [state](timestamp t3, const krpc::query_outcome& outcome) {
                        if (outcome.status == krpc::query_status::response) ++state->result.stored_at;
                        if (outcome.status == krpc::query_status::error) ++state->result.refused;
                        if (--state->waiting == 0 && state->done) state->done(t3, state->result);
                    },
                    r.closest[i].id);
                if (sent) ++state->waiting;
            }
            if (state->waiting == 0 && done) done(t2, state->result);
        },
        false, config_.families);
    // Nodes that already hold this seq need not send the value back.
    t->expect_item(key, item.salt, seq);
    t->start(now);
}

} // namespace ovl::dht

// BEP 44 mutable items: the signed bytes and the spec's test vectors, the store's rules
// (seq, cas, signature, sizes, caps), and get/put between nodes on a direct wire.
#include "direct_wire.hpp"

#include "dht/bencode/decode.hpp"
#include "dht/bencode/encode.hpp"
#include "dht/item_store.hpp"
#include "dht/krpc/codec.hpp"
#include "dht/mutable_item.hpp"

#include <catch2/catch.hpp>
#include <sodium.h>

using namespace ovl;
using namespace ovl::dht;
using namespace std::chrono_literals;

namespace {
endpoint ep(int i) { return *endpoint::parse("192.0.2." + std::to_string(i) + ":6881"); }

template <std::size_t N>
std::array<std::uint8_t, N> from_hex(std::string_view hex) {
    std::array<std::uint8_t, N> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
    return out;
}

std::string encoded(const bencode::value& v) {
    auto b = bencode::encode(v);
    return {b.begin(), b.end()};
}

struct keypair {
    public_key pk{};
    std::array<std::uint8_t, 64> sk{};

    explicit keypair(std::uint8_t seed_byte) {
        std::array<std::uint8_t, 32> seed{};
        seed.fill(seed_byte);
        crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
    }
    item_signer signer() const {
        return [sk = sk](std::span<const std::uint8_t> m) {
            item_signature sig{};
            crypto_sign_detached(sig.data(), nullptr, m.data(), m.size(), sk.data());
            return sig;
        };
    }
    mutable_item item(std::string salt, std::int64_t seq, const bencode::value& v) const {
        mutable_item it{pk, std::move(salt), seq, encoded(v), {}};
        it.sig = sign_item(sk, it.salt, it.seq, it.value);
        return it;
    }
};

// BEP 44 test vectors 1 and 2 (the key pair is the same for both).
const auto vector_key = from_hex<32>("77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548");
const auto vector_sig_plain = from_hex<64>("305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff"
                                           "1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01");
const auto vector_sig_salted = from_hex<64>("6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17d"
                                            "df9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08");

std::optional<krpc::message> decode_bytes(const bytes& b) {
    auto r = krpc::decode(b);
    if (auto* m = std::get_if<krpc::message>(&r)) return *m;
    return std::nullopt;
}

// Sends one query to `n` from `from` and returns the node's reply to it.
krpc::message ask(test::direct_wire& wire, node& n, const endpoint& from, const std::string& method,
                  bencode::dict args) {
    static int counter = 0;
    const auto tid = "x" + std::to_string(++counter);
    n.on_datagram(wire.now, from, krpc::encode(krpc::message::query(tid, method, std::move(args))));
    std::optional<krpc::message> reply;
    while (auto d = n.poll_transmit()) {
        auto m = decode_bytes(d->payload);
        if (m && m->transaction_id == tid) reply = m;
    }
    REQUIRE(reply);
    return *reply;
}

std::string token_for(test::direct_wire& wire, node& n, const endpoint& from, const node_id& target) {
    auto r = ask(wire, n, from, method::get, get_item_args(node_id{}, target, std::nullopt));
    REQUIRE(r.kind == krpc::message_kind::response);
    return *bencode::find_string(r.body, "token");
}

bencode::dict put_args(const std::string& token, const mutable_item& item) {
    auto v = bencode::decode(std::span(reinterpret_cast<const std::uint8_t*>(item.value.data()), item.value.size()));
    REQUIRE(v);
    return put_item_args(node_id{}, token, item, *v);
}

// Twelve nodes that know each other.
struct small_network {
    test::direct_wire wire;
    std::vector<node*> nodes;

    small_network() {
        nodes.push_back(&wire.add(ep(1)));
        for (int i = 2; i <= 12; ++i) {
            node_config c;
            c.bootstrap = {ep(1)};
            nodes.push_back(&wire.add(ep(i), c));
            nodes.back()->bootstrap(wire.now);
            wire.pump();
        }
        wire.advance(2s);
    }

    put_item_result put(node& from, const keypair& kp, const std::string& salt, std::int64_t seq,
                        const bencode::value& v) {
        std::optional<put_item_result> result;
        from.put_item(wire.now, kp.pk, salt, seq, v, kp.signer(),
                      [&](timestamp, const put_item_result& r) { result = r; });
        wire.pump();
        REQUIRE(result);
        return *result;
    }

    std::optional<mutable_item> get(node& from, const keypair& kp, const std::string& salt) {
        bool done = false;
        std::optional<mutable_item> found;
        from.get_item(wire.now, kp.pk, salt, [&](timestamp, const std::optional<mutable_item>& item, const lookup_result&) {
            done = true;
            found = item;
        });
        wire.pump();
        REQUIRE(done);
        return found;
    }
};
} // namespace

TEST_CASE("the signed buffer and target match BEP 44's test vectors", "[item]") {
    CHECK(signing_buffer("", 1, "12:Hello World!") == "3:seqi1e1:v12:Hello World!");
    CHECK(signing_buffer("foobar", 1, "12:Hello World!") == "4:salt6:foobar3:seqi1e1:v12:Hello World!");
    CHECK(item_target(vector_key, "").to_hex() == "4a533d47ec9c7d95b1ad75f576cffc641853b750");
    CHECK(item_target(vector_key, "foobar").to_hex() == "411eba73b6f087ca51a3795d9c8c938d365e32c1");
    // The spec's signatures, made by another implementation, verify here.
    CHECK(verify_item(vector_key, "", 1, "12:Hello World!", vector_sig_plain));
    CHECK(verify_item(vector_key, "foobar", 1, "12:Hello World!", vector_sig_salted));
    CHECK_FALSE(verify_item(vector_key, "foobar", 1, "12:Hello World!", vector_sig_plain));
    CHECK_FALSE(verify_item(vector_key, "", 2, "12:Hello World!", vector_sig_plain));
    CHECK_FALSE(verify_item(vector_key, "", 1, "12:Hello World?", vector_sig_plain));
}

TEST_CASE("items sign and verify; any change breaks the signature", "[item]") {
    keypair kp(7);
    auto item = kp.item("ovl-contact", 5, bencode::dict{{"a", "1.2.3.4"}, {"p", 6881}});
    CHECK(verify_item(item));
    // A signer callback produces the same (deterministic) signature as the raw key.
    CHECK(sign_item(kp.signer(), item.salt, item.seq, item.value) == item.sig);

    auto changed = item;
    changed.seq = 6;
    CHECK_FALSE(verify_item(changed));
    changed = item;
    changed.salt = "other";
    CHECK_FALSE(verify_item(changed));
    changed = item;
    changed.value[changed.value.size() - 2] ^= 1;
    CHECK_FALSE(verify_item(changed));
    changed = item;
    changed.key = keypair(8).pk;
    CHECK_FALSE(verify_item(changed));
    changed = item;
    changed.sig[10] ^= 0x40;
    CHECK_FALSE(verify_item(changed));
}

TEST_CASE("the item store keeps the newest validly signed item", "[item]") {
    timestamp now{1000s};
    item_store store;
    keypair kp(1);
    const auto target = item_target(kp.pk, "s");

    CHECK(store.put(now, kp.item("s", 2, "two")) == put_status::ok);
    CHECK(store.put(now, kp.item("s", 1, "one")) == put_status::seq_too_old);
    CHECK(store.put(now, kp.item("s", 2, "TWO")) == put_status::seq_too_old);
    CHECK(store.put(now, kp.item("s", 2, "two")) == put_status::ok);
    REQUIRE(store.get(now, target));
    CHECK(store.get(now, target)->value == "3:two");

    CHECK(store.put(now, kp.item("s", 3, "three"), 1) == put_status::cas_mismatch);
    CHECK(store.put(now, kp.item("s", 3, "three"), 2) == put_status::ok);
    CHECK(store.get(now, target)->seq == 3);

    auto forged = kp.item("s", 9, "forged");
    forged.sig[0] ^= 1;
    CHECK(store.put(now, forged) == put_status::bad_signature);
    CHECK(store.get(now, target)->seq == 3);

    CHECK(store.put(now, kp.item("s", 4, std::string(997, 'x'))) == put_status::value_too_big);
    CHECK(store.put(now, kp.item(std::string(65, 's'), 1, "v")) == put_status::salt_too_big);
    CHECK(store.put(now, kp.item(std::string(64, 's'), 1, std::string(994, 'x'))) == put_status::ok);
    CHECK(store.size() == 2);

    // Items nobody puts again expire.
    store.expire(now + 2h);
    CHECK(store.size() == 0);
    CHECK_FALSE(store.get(now + 2h, target));
}

TEST_CASE("a flood of puts cannot grow the item store past its caps", "[item]") {
    timestamp now{1000s};
    item_store_limits limits;
    limits.max_items = 200;
    limits.max_bytes = 100 * 1024;
    item_store store(limits);
    keypair kp(3);
    for (int i = 0; i < 3000; ++i) {
        CHECK(store.put(now, kp.item(std::to_string(i), 1, std::string(900, 'f'))) == put_status::ok);
        REQUIRE(store.size() <= limits.max_items);
        REQUIRE(store.memory_bytes() <= limits.max_bytes);
        now += 1ms;
    }
    CHECK(store.size() > 50);
    // The most recent item survives; the first was evicted.
    CHECK(store.get(now, item_target(kp.pk, "2999")));
    CHECK_FALSE(store.get(now, item_target(kp.pk, "0")));
}

TEST_CASE("put then get an item among twelve nodes; a newer seq wins", "[item][node]") {
    small_network net;
    keypair kp(11);
    const bencode::value record = bencode::dict{{"a", "203.0.113.7"}, {"p", 40000}};

    auto put = net.put(*net.nodes[2], kp, "ovl-contact", 1, record);
    CHECK(put.status == put_status::ok);
    CHECK(put.stored_at >= 7);
    CHECK(put.refused == 0);

    auto got = net.get(*net.nodes[9], kp, "ovl-contact");
    REQUIRE(got);
    CHECK(got->seq == 1);
    CHECK(got->key == kp.pk);
    CHECK(got->value == encoded(record));

    const bencode::value moved = bencode::dict{{"a", "203.0.113.8"}, {"p", 40001}};
    CHECK(net.put(*net.nodes[5], kp, "ovl-contact", 2, moved).stored_at >= 7);
    got = net.get(*net.nodes[9], kp, "ovl-contact");
    REQUIRE(got);
    CHECK(got->seq == 2);
    CHECK(got->value == encoded(moved));

    // An older seq is refused (302) by the nodes holding the newer item (a node that
    // never held it may take it), and lookups still return the newest.
    auto stale = net.put(*net.nodes[3], kp, "ovl-contact", 1, record);
    CHECK(stale.refused >= 7);
    CHECK(net.get(*net.nodes[0], kp, "ovl-contact")->seq == 2);
}

TEST_CASE("the salt separates items of one key", "[item][node]") {
    small_network net;
    keypair kp(12);
    net.put(*net.nodes[1], kp, "first", 1, "one");
    net.put(*net.nodes[1], kp, "second", 7, "two");
    auto first = net.get(*net.nodes[8], kp, "first");
    auto second = net.get(*net.nodes[8], kp, "second");
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->value == "3:one");
    CHECK(second->value == "3:two");
    CHECK(second->seq == 7);
    CHECK_FALSE(net.get(*net.nodes[8], kp, "third"));
    CHECK_FALSE(net.get(*net.nodes[8], keypair(13), "first"));
}

TEST_CASE("put refuses forged signatures (206), old seqs (302), bad tokens and oversize values", "[item][node]") {
    test::direct_wire wire;
    auto& n = wire.add(ep(1));
    keypair kp(21);
    const auto item = kp.item("ovl-contact", 5, "hello");
    const auto target = item_target(kp.pk, item.salt);
    const auto token = token_for(wire, n, ep(2), target);

    auto forged = item;
    forged.sig[3] ^= 0x10;
    auto r = ask(wire, n, ep(2), method::put, put_args(token, forged));
    CHECK(r.kind == krpc::message_kind::error);
    CHECK(r.error_code == 206);
    CHECK(n.items().size() == 0);

    // A token is bound to the requester's address.
    r = ask(wire, n, ep(3), method::put, put_args(token, item));
    CHECK(r.kind == krpc::message_kind::error);
    CHECK(r.error_code == krpc::protocol_error);
    CHECK(n.items().size() == 0);

    r = ask(wire, n, ep(2), method::put, put_args(token, item));
    CHECK(r.kind == krpc::message_kind::response);
    CHECK(n.items().size() == 1);

    r = ask(wire, n, ep(2), method::put, put_args(token, kp.item("ovl-contact", 4, "older")));
    CHECK(r.error_code == 302);

    auto args = put_args(token, kp.item("ovl-contact", 6, "newer"));
    args.insert_or_assign("cas", 4);
    CHECK(ask(wire, n, ep(2), method::put, args).error_code == 301);

    auto big = kp.item("ovl-contact", 6, std::string(1200, 'b'));
    CHECK(ask(wire, n, ep(2), method::put, put_args(token, big)).error_code == 205);
    args = put_args(token, item);
    args.insert_or_assign("salt", std::string(65, 's'));
    CHECK(ask(wire, n, ep(2), method::put, args).error_code == 207);
    args = put_args(token, item);
    args.erase("k");
    CHECK(ask(wire, n, ep(2), method::put, args).kind == krpc::message_kind::error);

    // get returns the item; with the requester's seq at or above ours, without the value.
    auto g = ask(wire, n, ep(4), method::get, get_item_args(node_id{}, target, std::nullopt));
    REQUIRE(read_item(g.body, item.salt));
    CHECK(read_item(g.body, item.salt)->value == "5:hello");
    CHECK(verify_item(*read_item(g.body, item.salt)));
    g = ask(wire, n, ep(4), method::get, get_item_args(node_id{}, target, 5));
    CHECK(*bencode::find_int(g.body, "seq") == 5);
    CHECK(g.body.find("v") == g.body.end());
    g = ask(wire, n, ep(4), method::get, get_item_args(node_id{}, target, 4));
    CHECK(g.body.find("v") != g.body.end());
}

TEST_CASE("a flood of valid puts to a node stays within its item caps", "[item][node]") {
    test::direct_wire wire;
    node_config config;
    config.items.max_items = 64;
    config.items.max_bytes = 32 * 1024;
    // This is about the item caps: 2,000 datagrams from one address at a frozen clock must
    // not meet the per-IP limit first.
    config.per_ip.per_second = 1e9;
    config.per_ip.burst = 1e9;
    auto& n = wire.add(ep(1), config);
    for (int i = 0; i < 1000; ++i) {
        keypair kp(static_cast<std::uint8_t>(i % 251));
        auto item = kp.item(std::to_string(i), 1, std::string(950, 'f'));
        auto r = ask(wire, n, ep(2), method::put, put_args(token_for(wire, n, ep(2), item_target(kp.pk, item.salt)), item));
        REQUIRE(r.kind == krpc::message_kind::response);
        REQUIRE(n.items().size() <= config.items.max_items);
        REQUIRE(n.items().memory_bytes() <= config.items.max_bytes);
    }
    CHECK(n.items().size() >= 16);
}

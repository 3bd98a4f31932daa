// Benchmark: how many registrations one introducer holds per GiB of heap, and how many
// introductions per second one core serves (decode, token check, rate limits, lookup,
// the notice to the target and the reply to the requester, both encoded).
//
//   build/tests/bench/introducer_bench [seconds]
#include "dht/base/log.hpp"
#include "dht/krpc/codec.hpp"
#include "dht/node.hpp"
#include "overlay/introducer_service.hpp"
#include "overlay/methods.hpp"

#include <malloc.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>

using namespace ovl;
using namespace ovl::overlay;
using namespace std::chrono_literals;

namespace {
double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
endpoint peer_ep(std::uint32_t i) { return endpoint{ip_address::v4(0x0B000000u + i), static_cast<std::uint16_t>(1024 + i % 60000)}; }
std::string key_of(std::uint32_t i) {
    std::string k(32, '\0');
    for (int b = 0; b < 4; ++b) k[static_cast<std::size_t>(b)] = static_cast<char>(i >> (8 * b));
    return k;
}
} // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
    timestamp now{1000s};

    // Registrations held per GiB: one million entries, as the introducer stores them.
    {
        const auto before = mallinfo2().uordblks;
        registration_table table(2'000'000);
        for (std::uint32_t i = 0; i < 1'000'000; ++i) {
            public_key k{};
            auto bytes = key_of(i);
            std::copy(bytes.begin(), bytes.end(), k.begin());
            registration r;
            r.observed = peer_ep(i);
            r.lan = {peer_ep(i + 7)};
            r.nat = "nat-cone";
            r.expires = now + 60s;
            table.upsert(now, k, std::move(r));
        }
        const auto used = static_cast<double>(mallinfo2().uordblks - before);
        std::printf("registrations: %zu held in %.1f MiB -> %.0f bytes each, %.2f million per GiB\n", table.size(),
                    used / (1 << 20), used / static_cast<double>(table.size()),
                    static_cast<double>(table.size()) / (used / (1 << 30)) / 1e6);
    }

    // Introductions per second: targets registered directly in the table the service
    // uses, requesters spread over many IPs with rate limits raised out of the way.
    introducer_limits limits;
    limits.introductions_per_second = 1e9;
    limits.per_requester_per_second = 1e9;
    limits.per_subnet_per_second = 1e9;
    limits.per_target_per_second = 1e9;
    limits.burst = 1e9;
    dht::node node(dht::node_config{}, random_source(1), null_logger(), now);
    introducer_service service(node, limits, relay_limits{}, 3600s, node.rng(), null_logger(), now, [] { return true; });
    const std::uint32_t targets = 10000, requesters = 4096;
    auto send = [&](const endpoint& from, const std::string& method, bencode::dict args) {
        args.emplace("id", std::string(20, 'q'));
        // Peers that need an introducer sit behind NATs and query read-only (BEP 43).
        auto q = krpc::message::query("tx", method, std::move(args));
        q.read_only = true;
        node.on_datagram(now, from, krpc::encode(q));
        std::optional<krpc::message> reply;
        while (auto d = node.poll_transmit()) {
            if (d->to != from) continue;
            auto r = krpc::decode(d->payload);
            if (auto* m = std::get_if<krpc::message>(&r); m && m->kind != krpc::message_kind::query) reply = *m;
        }
        return reply;
    };
    random_source rng(3);
    std::vector<std::string> target_keys;
    for (std::uint32_t i = 0; i < targets; ++i) {
        auto self = identity::generate(rng);
        const std::string k(self.public_key_bytes().begin(), self.public_key_bytes().end());
        auto first = send(peer_ep(i), method::register_peer, {{"k", k}});
        const auto tok = *bencode::find_string(first->body, "tok");
        auto sig = self.sign(introducer_service::registration_message(node.id(), tok, {}));
        send(peer_ep(i), method::register_peer, {{"k", k}, {"tok", tok}, {"sig", std::string(sig.begin(), sig.end())}});
        target_keys.push_back(k);
    }
    // One pre-encoded introduce query per requester, each with its IP-bound token.
    std::vector<std::pair<endpoint, bytes>> queries;
    for (std::uint32_t r = 0; r < requesters; ++r) {
        const auto from = peer_ep(100000 + r * 256);
        bencode::dict args{{"k", key_of(900000 + r)}, {"t", target_keys[r % targets]}, {"sid", std::string(8, 's')}};
        auto first = send(from, method::introduce, args);
        args.emplace("tok", *bencode::find_string(first->body, "tok"));
        args.emplace("id", std::string(20, 'q'));
        auto q = krpc::message::query("tx", method::introduce, std::move(args));
        q.read_only = true;
        queries.emplace_back(from, krpc::encode(q));
    }

    std::uint64_t handled = 0, out_bytes = 0;
    const auto ok_before = service.stats().introductions_ok;
    const double start = thread_cpu_seconds();
    double cpu = start;
    while (cpu - start < seconds) {
        for (int batch = 0; batch < 2048; ++batch) {
            const auto& [from, payload] = queries[handled % queries.size()];
            node.on_datagram(now, from, payload);
            while (auto d = node.poll_transmit()) out_bytes += d->payload.size();
            ++handled;
        }
        cpu = thread_cpu_seconds();
    }
    const double elapsed = cpu - start;
    const auto ok = service.stats().introductions_ok - ok_before;
    std::printf("introductions: %llu in %.2f s CPU -> %.0f introductions/s per core (%llu succeeded; %.0f bytes out each)\n",
                static_cast<unsigned long long>(handled), elapsed, static_cast<double>(handled) / elapsed,
                static_cast<unsigned long long>(ok), static_cast<double>(out_bytes) / static_cast<double>(handled));
    return ok == handled ? 0 : 1;
}

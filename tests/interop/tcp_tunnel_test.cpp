// The TCP tunnel that carries datagrams for clients whose network blocks UDP: frames
// arrive whole and in order with the sender's endpoint, answers go back over the same
// connection, and bad destinations or oversized frames are dropped without harm.
#include "cli/tcp_tunnel.hpp"

#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct inbox {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::pair<ovl::endpoint, ovl::bytes>> frames;

    ovl::cli::tcp_tunnel::deliver_fn sink() {
        return [this](const ovl::endpoint& from, std::vector<ovl::bytes> batch) {
            std::lock_guard lock(mutex);
            for (auto& f : batch) frames.emplace_back(from, std::move(f));
            changed.notify_all();
        };
    }
    bool wait_for(std::size_t count, std::chrono::milliseconds limit = 5000ms) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, limit, [&] { return frames.size() >= count; });
    }
};

ovl::bytes text(const std::string& s) { return ovl::bytes(s.begin(), s.end()); }

ovl::endpoint free_loopback_port() {
    // listen() does not report a port the kernel picked, so try fixed high ports.
    static std::uint16_t next = 38000;
    return ovl::endpoint{*ovl::ip_address::parse("127.0.0.1"), next++};
}

ovl::endpoint listen_on_free_port(ovl::cli::tcp_tunnel& tunnel) {
    for (int attempt = 0;; ++attempt) {
        const auto where = free_loopback_port();
        try {
            tunnel.listen(where);
            return where;
        } catch (const std::system_error&) {
            REQUIRE(attempt < 20);
        }
    }
}

} // namespace

TEST_CASE("tcp tunnel: frames arrive in order with the sender's endpoint, and answers go back",
          "[interop][cli][tunnel]") {
    inbox at_server, at_client;
    ovl::cli::tcp_tunnel server(at_server.sink(), ovl::null_logger());
    const auto where = listen_on_free_port(server);
    ovl::cli::tcp_tunnel client(at_client.sink(), ovl::null_logger());
    for (int i = 0; i < 50; ++i) client.send(where, text("frame " + std::to_string(i)), true);
    // An empty datagram is a frame too; one over 65,535 bytes cannot be, and is dropped.
    client.send(where, {}, true);
    client.send(where, ovl::bytes(70000, 1), true);
    client.send(where, text("last"), true);
    REQUIRE(at_server.wait_for(52));
    ovl::endpoint client_ep;
    {
        std::lock_guard lock(at_server.mutex);
        REQUIRE(at_server.frames.size() == 52);
        client_ep = at_server.frames[0].first;
        for (int i = 0; i < 50; ++i) CHECK(at_server.frames[i].second == text("frame " + std::to_string(i)));
        CHECK(at_server.frames[50].second.empty());
        CHECK(at_server.frames[51].second == text("last"));
        CHECK(at_server.frames[0].first.address == where.address);
    }
    CHECK(server.connected(client_ep));
    // The server never dials: it answers over the connection the client opened.
    server.send(client_ep, text("answer"), false);
    REQUIRE(at_client.wait_for(1));
    std::lock_guard lock(at_client.mutex);
    CHECK(at_client.frames[0].first == where);
    CHECK(at_client.frames[0].second == text("answer"));
    CHECK(server.accepted() == 1);
}

TEST_CASE("tcp tunnel: a stream's burst on an open connection arrives whole and in order",
          "[interop][cli][tunnel]") {
    inbox at_server;
    ovl::cli::tcp_tunnel server(at_server.sink(), ovl::null_logger());
    const auto where = listen_on_free_port(server);
    ovl::cli::tcp_tunnel client(ovl::cli::tcp_tunnel::deliver_fn([](const ovl::endpoint&, std::vector<ovl::bytes>) {}),
                                ovl::null_logger());
    client.send(where, text("open"), true);
    REQUIRE(at_server.wait_for(1));
    // A congestion window's worth sent at once, as the overlay's loop does: the tunnel once
    // kept 256 frames and dropped the rest of every burst.
    constexpr int burst = 768;
    std::vector<ovl::cli::tcp_tunnel::frame> frames;
    for (int i = 0; i < burst; ++i) {
        auto payload = ovl::bytes(1000, static_cast<std::uint8_t>(i));
        payload[0] = static_cast<std::uint8_t>(i >> 8);
        frames.push_back({where, std::move(payload), false});
    }
    client.send(frames);
    CHECK(frames.empty());
    REQUIRE(at_server.wait_for(1 + burst));
    std::lock_guard lock(at_server.mutex);
    REQUIRE(at_server.frames.size() == 1 + burst);
    int intact = 0;
    for (int i = 0; i < burst; ++i) {
        const auto& f = at_server.frames[1 + static_cast<std::size_t>(i)].second;
        if (f.size() == 1000 && f[0] == static_cast<std::uint8_t>(i >> 8) && f[999] == static_cast<std::uint8_t>(i))
            ++intact;
    }
    CHECK(intact == burst);
}

TEST_CASE("tcp tunnel: nobody listening, or no connection to answer on: frames are dropped",
          "[interop][cli][tunnel]") {
    inbox at_client;
    ovl::cli::tcp_tunnel client(at_client.sink(), ovl::null_logger());
    const ovl::endpoint closed{*ovl::ip_address::parse("127.0.0.1"), 9};
    client.send(closed, text("hello?"), true);
    client.send(closed, text("anyone?"), false);
    // The refused connection is forgotten, so it can be dialled again later.
    for (int i = 0; i < 100 && client.connected(closed); ++i) std::this_thread::sleep_for(10ms);
    CHECK(!client.connected(closed));
    CHECK(!at_client.wait_for(1, 200ms));
}

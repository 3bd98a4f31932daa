#include "overlay/torrent/bridge_endpoint.hpp"

#include "cli/overlay_session.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace ovl::torrent {

namespace {
namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

constexpr std::size_t read_chunk = 64 * 1024;
// Bytes queued toward either side before the producer pauses; then the stream's window
// (or TCP's) closes and the far end slows down instead of us buffering.
constexpr std::size_t high_water = 1 << 20;
// How long a dialed stream waits for libtorrent to connect to its loopback listener.
constexpr auto accept_timeout = 30s;
// A dial before the native node knows any DHT node is retried this often, this many times.
constexpr auto dial_retry = 1s;
constexpr int dial_retries = 30;

tcp::endpoint to_tcp(const endpoint& ep) { return {asio::ip::address_v4(ep.address.v4_value()), ep.port}; }

endpoint from_tcp(const tcp::endpoint& ep) { return {ip_address::v4(ep.address().to_v4().to_uint()), ep.port()}; }

std::string short_id(const overlay::public_key& k) { return overlay::to_hex(k).substr(0, 16); }
} // namespace

// One overlay stream spliced to one loopback TCP socket. Fields are owned by the thread
// named beside them; the backlog counter is shared.
struct splice {
    overlay::connection_id id = 0;
    bool incoming = false;
    bridge_preamble about;
    timestamp started{};
    std::string detail;
    // Loop thread.
    bytes to_stream;
    bytes head;
    bool preamble_done = false;
    bool attached = false;
    bool tcp_eof = false;
    bool read_parked = false;
    bool stream_close_sent = false;
    bool stream_done = false;
    bool tcp_finishing = false;
    bool abandoned = false;
    std::string end_reason;
    // TCP thread.
    std::optional<tcp::socket> socket;
    std::optional<tcp::acceptor> acceptor;
    std::optional<asio::steady_timer> accept_timer;
    std::deque<bytes> writes;
    bool writing = false;
    bool shutdown_after_writes = false;
    bool close_after_writes = false;
    std::array<std::uint8_t, read_chunk> buf{};
    // Bytes handed to the TCP thread and not yet written.
    std::atomic<std::size_t> tcp_backlog{0};
};

struct bridge_endpoint::impl {
    impl(overlay::overlay_config config, overlay::identity self, overlay::public_key plugin, const endpoint& bind,
         logger_ptr l)
        : log(std::move(l)), plugin_peer(plugin), own(self.public_key_bytes()), work(asio::make_work_guard(io)),
          session(std::move(config), std::move(self), bind, log) {}

    void run() {
        session.set_hook([this](timestamp now) { on_loop(now); });
        session.run_on_loop([this](timestamp now) { session.node().start(now); });
        loop_thread = std::thread([this] { session.driver().run(); });
        tcp_thread = std::thread([this] { io.run(); });
        log->info("overlay bridge: native endpoint {} on {}", session.node().self().peer_id(),
                  session.local().to_string());
    }

    void stop() {
        session.driver().stop();
        if (loop_thread.joinable()) loop_thread.join();
        work.reset();
        io.stop();
        if (tcp_thread.joinable()) tcp_thread.join();
        // Sockets go before the io_context they belong to.
        splices.clear();
    }

    void push(bridge_event e) {
        std::lock_guard lock(mutex);
        events.push_back(std::move(e));
    }

    bool accepts(const std::string& rdv) {
        std::lock_guard lock(mutex);
        return torrents.contains(rdv);
    }

    std::optional<endpoint> listen_endpoint() {
        std::lock_guard lock(mutex);
        return listen;
    }

    // ---- loop thread

    void dial(timestamp now, const overlay::public_key& bridge_peer, bridge_preamble about, int tries_left) {
        auto& node = session.node();
        if (node.dht().table().size() == 0 && tries_left > 0) {
            session.driver().schedule(dial_retry, [this, bridge_peer, about, tries_left](timestamp t) {
                dial(t, bridge_peer, about, tries_left - 1);
            });
            return;
        }
        log->info("overlay bridge: dialing {} (bridge of peer {})", short_id(bridge_peer), short_id(about.peer));
        node.connect(now, bridge_peer, [this, about](timestamp t, const overlay::connect_result& r) {
            if (!r.ok) {
                push({bridge_event::kind::dial_failed, about.peer, about.rdv, about.path, {},
                      r.error + (r.peer_nat.empty() ? "" : " (peer: " + r.peer_nat + ")"), r.elapsed});
                return;
            }
            auto s = std::make_shared<splice>();
            s->id = r.connection;
            s->about = about;
            s->about.path = r.path == overlay::path_kind::relay ? bridge_path::relayed : bridge_path::direct_udp;
            s->started = t;
            s->detail = r.path == overlay::path_kind::relay ? "via relay " + r.remote.to_string()
                                                            : "to " + r.remote.to_string();
            // The peer learns who dials, for which torrent, over which path.
            bridge_preamble mine{plugin_peer, about.rdv, s->about.path};
            s->to_stream = encode_preamble(mine);
            splices[s->id] = s;
            open_listener(s, r.elapsed);
        });
    }

    void on_loop(timestamp now) {
        auto& node = session.node();
        if (now >= next_verdict) {
            next_verdict = now + 1s;
            auto v = std::string(overlay::to_string(node.profile().verdict));
            std::lock_guard lock(mutex);
            verdict = std::move(v);
        }
        while (auto e = node.poll_event()) {
            if (e->what == overlay::connection_event::kind::opened) {
                if (!e->incoming) continue;
                auto s = std::make_shared<splice>();
                s->id = e->id;
                s->incoming = true;
                s->started = now;
                s->detail = "from " + e->remote.to_string();
                splices[e->id] = s;
                continue;
            }
            if (auto it = splices.find(e->id); it != splices.end()) {
                it->second->stream_done = true;
                if (e->what == overlay::connection_event::kind::failed) it->second->end_reason = e->reason;
            }
        }
        for (auto it = splices.begin(); it != splices.end();) {
            if (pump(*it->second))
                ++it;
            else
                it = splices.erase(it);
        }
    }

    // Moves bytes both ways; false once the splice is over.
    bool pump(splice& s) {
        auto& node = session.node();
        if (s.abandoned) {
            node.close(s.id);
            close_tcp(s);
            return false;
        }
        if (s.incoming && !s.preamble_done) return read_preamble(s);
        if (!s.to_stream.empty()) {
            const auto n = node.write(s.id, s.to_stream);
            s.to_stream.erase(s.to_stream.begin(), s.to_stream.begin() + static_cast<std::ptrdiff_t>(n));
        }
        if (s.tcp_eof && s.to_stream.empty() && !s.stream_close_sent) {
            s.stream_close_sent = true;
            node.close(s.id);
        }
        if (!s.attached) {
            if (!s.stream_done) return true;
            close_tcp(s);
            return false;
        }
        if (s.read_parked && s.to_stream.size() < high_water) {
            s.read_parked = false;
            asio::post(io, [this, p = share(s)] { start_read(p); });
        }
        if (!s.tcp_finishing && s.tcp_backlog < high_water) {
            auto data = node.read(s.id);
            const auto* st = node.stream(s.id);
            if (!data.empty()) {
                send_tcp(s, std::move(data));
            } else if (s.stream_done || !st || st->peer_finished()) {
                s.tcp_finishing = true;
                asio::post(io, [this, p = share(s)] {
                    p->shutdown_after_writes = true;
                    if (!p->writing) write_next(p);
                });
            }
        }
        if (!s.tcp_finishing || !s.stream_done) return true;
        log->info("overlay bridge: stream with peer {} ended{}", short_id(s.about.peer),
                  s.end_reason.empty() ? "" : ": " + s.end_reason);
        push({bridge_event::kind::closed, s.about.peer, s.about.rdv, s.about.path, {}, s.end_reason, {}});
        // What is still queued for libtorrent goes out first.
        asio::post(io, [this, p = share(s)] {
            p->close_after_writes = true;
            if (!p->writing) write_next(p);
        });
        return false;
    }

    bool read_preamble(splice& s) {
        auto& node = session.node();
        auto data = node.read(s.id);
        s.head.insert(s.head.end(), data.begin(), data.end());
        if (s.head.size() < bridge_preamble_size) {
            if (!s.stream_done) return true;
            return false;
        }
        auto about = decode_preamble(bytes_view(s.head).first(bridge_preamble_size));
        const auto listen_ep = listen_endpoint();
        std::string why = !about                ? "not a bridge preamble"
                          : !accepts(about->rdv) ? "a torrent we do not have"
                          : !listen_ep           ? "the session's listen port is not known yet"
                                                 : "";
        if (!why.empty()) {
            log->info("overlay bridge: refusing a stream {}: {}", s.detail, why);
            push({bridge_event::kind::refused, about ? about->peer : overlay::public_key{}, {}, bridge_path::relayed, {},
                  why, {}});
            node.close(s.id);
            return false;
        }
        s.about = *about;
        s.preamble_done = true;
        bytes early(s.head.begin() + bridge_preamble_size, s.head.end());
        s.head.clear();
        connect_local(share(s), *listen_ep, std::move(early));
        return true;
    }

    std::shared_ptr<splice> share(splice& s) { return splices.at(s.id); }

    void send_tcp(splice& s, bytes data) {
        s.tcp_backlog += data.size();
        asio::post(io, [this, p = share(s), data = std::move(data)]() mutable {
            p->writes.push_back(std::move(data));
            if (!p->writing) write_next(p);
        });
    }

    void close_tcp(splice& s) {
        asio::post(io, [p = share(s)] {
            boost::system::error_code ec;
            if (p->accept_timer) p->accept_timer->cancel();
            if (p->acceptor) p->acceptor->close(ec);
            if (p->socket) p->socket->close(ec);
        });
    }

    void attach(const std::shared_ptr<splice>& p, bytes early) {
        session.run_on_loop([this, p, early = std::move(early)](timestamp) mutable {
            if (!splices.contains(p->id)) return;
            p->attached = true;
            if (!early.empty()) send_tcp(*p, std::move(early));
            asio::post(io, [this, p] { start_read(p); });
        });
    }

    void abandon(const std::shared_ptr<splice>& p, std::string reason) {
        session.run_on_loop([p, reason = std::move(reason)](timestamp) {
            p->abandoned = true;
            p->end_reason = reason;
        });
    }

    // ---- TCP thread

    void open_listener(const std::shared_ptr<splice>& p, duration elapsed) {
        asio::post(io, [this, p, elapsed] {
            boost::system::error_code ec;
            p->acceptor.emplace(io);
            p->acceptor->open(tcp::v4(), ec);
            if (!ec) p->acceptor->bind(tcp::endpoint(asio::ip::address_v4::loopback(), 0), ec);
            if (!ec) p->acceptor->listen(1, ec);
            if (ec) {
                push({bridge_event::kind::dial_failed, p->about.peer, p->about.rdv, p->about.path, {},
                      "cannot listen on 127.0.0.1: " + ec.message(), elapsed});
                abandon(p, ec.message());
                return;
            }
            const auto local = from_tcp(p->acceptor->local_endpoint(ec));
            log->info("overlay bridge: stream to peer {} open ({}, {}); libtorrent connects to {}", short_id(p->about.peer),
                      to_string(p->about.path), p->detail, local.to_string());
            push({bridge_event::kind::dial_ready, p->about.peer, p->about.rdv, p->about.path, local, p->detail, elapsed});
            p->accept_timer.emplace(io, accept_timeout);
            p->accept_timer->async_wait([p](const boost::system::error_code& e) {
                boost::system::error_code ignored;
                if (!e && p->acceptor) p->acceptor->close(ignored);
            });
            p->acceptor->async_accept([this, p](const boost::system::error_code& e, tcp::socket sock) {
                p->accept_timer->cancel();
                boost::system::error_code ignored;
                p->acceptor->close(ignored);
                if (e) {
                    abandon(p, "libtorrent did not connect to the bridge: " + e.message());
                    return;
                }
                sock.set_option(tcp::no_delay(true), ignored);
                p->socket.emplace(std::move(sock));
                attach(p, {});
            });
        });
    }

    void connect_local(const std::shared_ptr<splice>& p, const endpoint& to, bytes early) {
        asio::post(io, [this, p, to, early = std::move(early)]() mutable {
            p->socket.emplace(io);
            p->socket->async_connect(to_tcp(to), [this, p, to, early = std::move(early)](
                                                     const boost::system::error_code& e) mutable {
                if (e) {
                    log->warn("overlay bridge: cannot connect to the session at {}: {}", to.to_string(), e.message());
                    push({bridge_event::kind::refused, p->about.peer, p->about.rdv, p->about.path, {},
                          "cannot connect to the session's listen port: " + e.message(), {}});
                    abandon(p, e.message());
                    return;
                }
                boost::system::error_code ignored;
                p->socket->set_option(tcp::no_delay(true), ignored);
                const auto local = from_tcp(p->socket->local_endpoint(ignored));
                log->info("overlay bridge: stream from peer {} ({}, {}) connected to the session as {}",
                          short_id(p->about.peer), to_string(p->about.path), p->detail, local.to_string());
                // Reported before any byte reaches libtorrent, so the event is there when
                // its handshake completes.
                push({bridge_event::kind::accepted, p->about.peer, p->about.rdv, p->about.path, local, p->detail,
                      duration{}});
                attach(p, std::move(early));
            });
        });
    }

    void start_read(const std::shared_ptr<splice>& p) {
        if (!p->socket || !p->socket->is_open()) return;
        p->socket->async_read_some(asio::buffer(p->buf), [this, p](const boost::system::error_code& e, std::size_t n) {
            if (e || n == 0) {
                session.run_on_loop([p](timestamp) { p->tcp_eof = true; });
                return;
            }
            bytes chunk(p->buf.begin(), p->buf.begin() + static_cast<std::ptrdiff_t>(n));
            session.run_on_loop([this, p, chunk = std::move(chunk)](timestamp) {
                p->to_stream.insert(p->to_stream.end(), chunk.begin(), chunk.end());
                if (p->to_stream.size() >= high_water)
                    p->read_parked = true;
                else
                    asio::post(io, [this, p] { start_read(p); });
            });
        });
    }

    void write_next(const std::shared_ptr<splice>& p) {
        if (p->writes.empty()) {
            p->writing = false;
            boost::system::error_code ignored;
            if (p->shutdown_after_writes && p->socket) p->socket->shutdown(tcp::socket::shutdown_send, ignored);
            if (p->close_after_writes && p->socket) p->socket->close(ignored);
            return;
        }
        p->writing = true;
        asio::async_write(*p->socket, asio::buffer(p->writes.front()),
                          [this, p](const boost::system::error_code& e, std::size_t n) {
                              p->writes.pop_front();
                              const auto before = p->tcp_backlog.fetch_sub(n);
                              if (e) {
                                  p->writing = false;
                                  abandon(p, "loopback connection closed: " + e.message());
                                  return;
                              }
                              // The loop stopped reading the stream at the high-water mark: wake it.
                              if (before >= high_water && before - n < high_water)
                                  session.run_on_loop([](timestamp) {});
                              write_next(p);
                          });
    }

    logger_ptr log;
    overlay::public_key plugin_peer;
    overlay::public_key own;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::mutex mutex;
    std::set<std::string> torrents;
    std::optional<endpoint> listen;
    std::vector<bridge_event> events;
    std::string verdict = "unknown";
    timestamp next_verdict{};
    std::map<overlay::connection_id, std::shared_ptr<splice>> splices;
    cli::overlay_session session;
    std::thread loop_thread;
    std::thread tcp_thread;
};

bridge_endpoint::bridge_endpoint(overlay::overlay_config config, overlay::identity self, overlay::public_key plugin_peer,
                                 const endpoint& bind, logger_ptr log)
    : impl_(std::make_shared<impl>(std::move(config), std::move(self), plugin_peer, bind, std::move(log))) {
    impl_->run();
}

bridge_endpoint::~bridge_endpoint() { impl_->stop(); }

const overlay::public_key& bridge_endpoint::peer_id() const { return impl_->own; }

void bridge_endpoint::set_torrents(std::set<std::string> rdvs) {
    std::lock_guard lock(impl_->mutex);
    impl_->torrents = std::move(rdvs);
}

void bridge_endpoint::set_listen(const endpoint& ep) {
    std::lock_guard lock(impl_->mutex);
    impl_->listen = ep;
}

void bridge_endpoint::dial(const overlay::public_key& bridge_peer, const overlay::public_key& plugin_peer,
                           const std::string& rdv) {
    impl_->session.run_on_loop([i = impl_.get(), bridge_peer, about = bridge_preamble{plugin_peer, rdv,
                                                                                      bridge_path::relayed}](timestamp now) {
        i->dial(now, bridge_peer, about, dial_retries);
    });
}

std::string bridge_endpoint::nat_verdict() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->verdict;
}

std::vector<bridge_event> bridge_endpoint::take_events() {
    std::lock_guard lock(impl_->mutex);
    return std::exchange(impl_->events, {});
}

} // namespace ovl::torrent

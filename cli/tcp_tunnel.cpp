#include "cli/tcp_tunnel.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

namespace ovl::cli {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
// Bounds against a peer that sends or receives nothing useful.
constexpr std::size_t max_connections = 256;
// Framed bytes a connection holds in user space when the kernel's send buffer is full;
// frames beyond are dropped. Frames go straight into the kernel's buffer (which TCP's
// autotuning sizes to the path) as they are queued, so this fills only when the TCP path
// itself cannot keep up.
constexpr std::size_t max_queued_bytes = 256 * 1024;
// Frames queued by send() and not yet taken by the tunnel's thread (all connections).
constexpr std::size_t max_outbox_bytes = 4 << 20;
// Queued bytes that are written at once, in the middle of a batch of frames.
constexpr std::size_t write_size = 64 * 1024;
// Bytes read with one system call.
constexpr std::size_t read_size = 64 * 1024;
constexpr auto connect_timeout = std::chrono::seconds(3);
// A connection that carries nothing for this long is closed, so idle ones cannot hold
// all the slots (clients keep theirs busy with registration keepalives every 20 s).
constexpr auto idle_timeout = std::chrono::seconds(90);

// Punching binds a second socket to the port of an open connection (its NAT mapping is
// the one the introducer saw), which the kernel allows only if both sockets say so.
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
// Between attempts of a simultaneous open whose connect failed at once (a reset).
constexpr auto punch_retry = std::chrono::milliseconds(250);

void open_shareable(tcp::socket& s, bool v4, std::uint16_t port, boost::system::error_code& ec) {
    const auto protocol = v4 ? tcp::v4() : tcp::v6();
    s.open(protocol, ec);
    if (!ec && !v4) s.set_option(asio::ip::v6_only(true), ec);
    if (!ec) s.set_option(tcp::socket::reuse_address(true), ec);
    if (!ec) s.set_option(reuse_port(true), ec);
    if (!ec) s.bind(tcp::endpoint(protocol, port), ec);
}

tcp::endpoint to_asio(const endpoint& ep) { return {asio::ip::make_address(ep.address.to_string()), ep.port}; }
endpoint from_asio(const tcp::endpoint& ep) {
    auto a = ep.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    return endpoint{*ip_address::parse(a.to_string()), ep.port()};
}
} // namespace

struct tcp_tunnel::impl : std::enable_shared_from_this<tcp_tunnel::impl> {
    struct connection {
        explicit connection(asio::io_context& io) : socket(io), timer(io) {}
        tcp::socket socket;
        asio::steady_timer timer;
        // Framed bytes the kernel has not taken yet; those before `written` went out.
        std::vector<std::uint8_t> queued;
        std::size_t written = 0;
        bool open = false;
        bool waiting = false; // for the socket to take more (the kernel's buffer was full)
        // Room for one read after the longest partial frame (2 + 65,535 bytes).
        std::vector<std::uint8_t> received = std::vector<std::uint8_t>(read_size + 2 + 0xffff);
        std::size_t filled = 0;    // bytes of `received` read and not yet delivered

        std::size_t backlog() const { return queued.size() - written; }
    };

    // A frame to send, queued by any thread for the tunnel's.
    struct outgoing {
        endpoint to;
        bytes payload;
        bool dial;
    };

    impl(deliver_fn d, logger_ptr l) : deliver(std::move(d)), log(std::move(l)), work(asio::make_work_guard(io)) {}

    void start() {
        thread = std::thread([self = shared_from_this()] { self->io.run(); });
    }

    void stop() {
        work.reset();
        io.stop();
        if (thread.joinable()) thread.join();
    }

    void accept() {
        acceptor->async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket s) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                ++self->accepted;
                boost::system::error_code e2;
                const auto remote = s.remote_endpoint(e2);
                if (!e2 && self->conns.size() < max_connections) {
                    auto c = std::make_shared<connection>(self->io);
                    c->socket = std::move(s);
                    const auto ep = from_asio(remote);
                    self->add(ep, c);
                    self->start(ep, c);
                }
            }
            self->accept();
        });
    }

    void add(const endpoint& ep, const std::shared_ptr<connection>& c) {
        std::lock_guard lock(mutex);
        conns[ep] = c;
    }

    void remove(const endpoint& ep, const std::shared_ptr<connection>& c) {
        std::lock_guard lock(mutex);
        auto it = conns.find(ep);
        if (it != conns.end() && it->second == c) conns.erase(it);
        c->open = false;
        boost::system::error_code ignored;
        c->socket.close(ignored);
        c->timer.cancel();
    }

    void arm_idle(const endpoint& ep, const std::shared_ptr<connection>& c) {
        c->timer.expires_after(idle_timeout);
        c->timer.async_wait([self = shared_from_this(), ep, c](const boost::system::error_code& ec) {
            if (!ec) self->remove(ep, c);
        });
    }

    // Starts reading an open connection. Frames are written at once, not held back for
    // more (Nagle): each one is a datagram somebody waits for, and bulk writes batch anyway.
    // Writes never block the thread: what the kernel cannot take waits in `queued`.
    void start(const endpoint& ep, const std::shared_ptr<connection>& c) {
        c->open = true;
        boost::system::error_code ignored;
        c->socket.set_option(tcp::no_delay(true), ignored);
        c->socket.non_blocking(true, ignored);
        arm_idle(ep, c);
        read(ep, c);
    }

    void read(const endpoint& ep, const std::shared_ptr<connection>& c) {
        c->socket.async_read_some(
            asio::buffer(c->received.data() + c->filled, c->received.size() - c->filled),
            [self = shared_from_this(), ep, c](const boost::system::error_code& ec, std::size_t n) {
                if (ec) return self->remove(ep, c);
                c->filled += n;
                std::vector<bytes> frames;
                std::size_t at = 0;
                while (c->filled - at >= 2) {
                    const auto* p = c->received.data() + at;
                    const std::size_t len = (std::size_t{p[0]} << 8) | p[1];
                    if (c->filled - at < 2 + len) break;
                    frames.emplace_back(p + 2, p + 2 + len);
                    at += 2 + len;
                }
                // The partial frame left moves to the front (it is shorter than one frame).
                std::copy(c->received.begin() + static_cast<std::ptrdiff_t>(at),
                          c->received.begin() + static_cast<std::ptrdiff_t>(c->filled), c->received.begin());
                c->filled -= at;
                self->arm_idle(ep, c);
                if (!frames.empty()) self->deliver(ep, std::move(frames));
                self->read(ep, c);
            });
    }

    // Frames the other threads queued, then every connection they went to written: a burst
    // of frames costs a system call per write_size bytes, not one per frame or per batch.
    void take_outbox() {
        {
            std::lock_guard lock(outbox_mutex);
            taking.swap(outbox);
            outbox_bytes = 0;
        }
        std::vector<std::pair<endpoint, std::shared_ptr<connection>>> touched;
        for (auto& o : taking) {
            auto c = enqueue(o.to, o.payload, o.dial);
            if (c && (touched.empty() || touched.back().second != c)) touched.emplace_back(o.to, std::move(c));
        }
        taking.clear();
        for (auto& [to, c] : touched) flush(to, c);
    }

    std::shared_ptr<connection> find(const endpoint& to) {
        std::lock_guard lock(mutex);
        auto it = conns.find(to);
        return it == conns.end() ? nullptr : it->second;
    }

    std::shared_ptr<connection> dial(const endpoint& to) {
        if (conns.size() >= max_connections) return nullptr;
        auto c = std::make_shared<connection>(io);
        add(to, c);
        c->timer.expires_after(connect_timeout);
        c->timer.async_wait([self = shared_from_this(), to, c](const boost::system::error_code& ec) {
            if (!ec && !c->open) {
                self->log->debug("tcp tunnel: no connection to {} within 3 s", to.to_string());
                self->remove(to, c);
            }
        });
        boost::system::error_code prep;
        if (to.address.is_v4()) open_shareable(c->socket, true, 0, prep);
        if (prep) log->debug("tcp tunnel: cannot prepare a shareable socket: {}", prep.message());
        c->socket.async_connect(to_asio(to), [self = shared_from_this(), to, c](const boost::system::error_code& ec) {
            if (ec) {
                self->log->debug("tcp tunnel: connect to {}: {}", to.to_string(), ec.message());
                return self->remove(to, c);
            }
            self->start(to, c);
            self->flush(to, c);
        });
        return c;
    }

    // Appends one frame to the connection to `to` (dialled first when `dial` is set), or
    // drops it when the connection already holds max_queued_bytes; writes once write_size
    // bytes are waiting. Returns the connection, which the caller flushes.
    std::shared_ptr<connection> enqueue(const endpoint& to, const bytes& payload, bool dial_if_new) {
        auto c = find(to);
        if (!c && dial_if_new) c = dial(to);
        if (!c) return nullptr;
        const std::size_t frame = 2 + payload.size();
        if (c->backlog() + frame > max_queued_bytes) {
            flush(to, c);
            if (c->backlog() + frame > max_queued_bytes) return c;
        }
        // What went out is dropped from the front before it grows (compacting only when that
        // moves less than it frees).
        if (c->written == c->queued.size()) {
            c->queued.clear();
            c->written = 0;
        } else if (c->written >= write_size && c->written >= c->backlog()) {
            c->queued.erase(c->queued.begin(), c->queued.begin() + static_cast<std::ptrdiff_t>(c->written));
            c->written = 0;
        }
        c->queued.push_back(static_cast<std::uint8_t>(payload.size() >> 8));
        c->queued.push_back(static_cast<std::uint8_t>(payload.size()));
        c->queued.insert(c->queued.end(), payload.begin(), payload.end());
        if (c->backlog() >= write_size) flush(to, c);
        return c;
    }

    void punch(const endpoint& remote, std::uint16_t port, std::chrono::steady_clock::time_point deadline,
               std::function<void(bool)> done) {
        auto c = std::make_shared<connection>(io);
        boost::system::error_code ec;
        open_shareable(c->socket, remote.address.is_v4(), port, ec);
        if (ec || std::chrono::steady_clock::now() >= deadline) {
            if (ec) log->info("tcp punch to {}: cannot bind port {}: {}", remote.to_string(), port, ec.message());
            return done(false);
        }
        c->timer.expires_at(deadline);
        c->timer.async_wait([c](const boost::system::error_code& e) {
            boost::system::error_code ignored;
            if (!e && !c->open) c->socket.close(ignored);
        });
        c->socket.async_connect(to_asio(remote), [self = shared_from_this(), remote, port, deadline, c,
                                                  done = std::move(done)](const boost::system::error_code& e) mutable {
            c->timer.cancel();
            if (!e) {
                self->add(remote, c);
                self->start(remote, c);
                self->flush(remote, c);
                return done(true);
            }
            self->log->debug("tcp punch to {}: {}", remote.to_string(), e.message());
            if (std::chrono::steady_clock::now() + punch_retry >= deadline) return done(false);
            auto retry = std::make_shared<asio::steady_timer>(self->io, punch_retry);
            retry->async_wait([self, remote, port, deadline, retry, done = std::move(done)](const boost::system::error_code&) mutable {
                self->punch(remote, port, deadline, std::move(done));
            });
        });
    }

    // Writes what is queued until the kernel takes no more, then waits until it can.
    void flush(const endpoint& to, const std::shared_ptr<connection>& c) {
        if (!c->open || c->waiting) return;
        while (c->backlog() > 0) {
            boost::system::error_code ec;
            const std::size_t n = c->socket.write_some(asio::buffer(c->queued.data() + c->written, c->backlog()), ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) {
                c->waiting = true;
                c->socket.async_wait(tcp::socket::wait_write, [self = shared_from_this(), to, c](const boost::system::error_code& e) {
                    c->waiting = false;
                    if (e == asio::error::operation_aborted) return;
                    if (e) return self->remove(to, c);
                    self->flush(to, c);
                });
                return;
            }
            if (ec) return remove(to, c);
            c->written += n;
        }
        c->queued.clear();
        c->written = 0;
    }

    deliver_fn deliver;
    logger_ptr log;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::optional<tcp::acceptor> acceptor;
    // Connections by remote endpoint: changed on the tunnel thread only, looked up from others.
    mutable std::mutex mutex;
    std::map<endpoint, std::shared_ptr<connection>> conns;
    // Frames queued by send(); one post drains all that gathered meanwhile. `taking` is
    // the tunnel thread's side of the swap, so both keep their capacity.
    std::mutex outbox_mutex;
    std::vector<outgoing> outbox;
    std::size_t outbox_bytes = 0;
    std::vector<outgoing> taking;
    std::atomic<std::uint64_t> accepted{0};
    std::thread thread;
};

tcp_tunnel::tcp_tunnel(deliver_fn deliver, logger_ptr log) : impl_(std::make_shared<impl>(std::move(deliver), std::move(log))) {
    impl_->start();
}

tcp_tunnel::~tcp_tunnel() { impl_->stop(); }

void tcp_tunnel::listen(const endpoint& bind_to) {
    tcp::acceptor a(impl_->io);
    const auto local = to_asio(bind_to);
    boost::system::error_code ec;
    a.open(local.protocol(), ec);
    if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) a.bind(local, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::system_error(std::error_code(ec.value(), std::system_category()), "tcp " + bind_to.to_string());
    asio::post(impl_->io, [self = impl_, a = std::move(a)]() mutable {
        self->acceptor.emplace(std::move(a));
        self->accept();
    });
}

bool tcp_tunnel::connected(const endpoint& to) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->conns.contains(to);
}

void tcp_tunnel::send(const endpoint& to, bytes payload, bool dial) {
    if (payload.size() > 0xffff) return;
    bool first = false;
    {
        std::lock_guard lock(impl_->outbox_mutex);
        if (impl_->outbox_bytes + payload.size() > max_outbox_bytes) return;
        first = impl_->outbox.empty();
        impl_->outbox_bytes += payload.size();
        impl_->outbox.push_back({to, std::move(payload), dial});
    }
    if (first) asio::post(impl_->io, [self = impl_] { self->take_outbox(); });
}

void tcp_tunnel::punch(const endpoint& remote, std::optional<endpoint> via, std::uint16_t port, duration wait,
                       std::function<void(bool)> done) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait);
    asio::post(impl_->io, [self = impl_, remote, via, port, deadline, done = std::move(done)]() mutable {
        if (via) {
            std::shared_ptr<impl::connection> c;
            {
                std::lock_guard lock(self->mutex);
                if (auto it = self->conns.find(*via); it != self->conns.end()) c = it->second;
            }
            boost::system::error_code ec;
            const auto local = c ? c->socket.local_endpoint(ec) : tcp::endpoint();
            if (!c || ec) {
                self->log->info("tcp punch to {}: no connection to {} to punch from", remote.to_string(), via->to_string());
                return done(false);
            }
            port = local.port();
        }
        self->punch(remote, port, deadline, std::move(done));
    });
}

std::uint64_t tcp_tunnel::accepted() const { return impl_->accepted; }

} // namespace ovl::cli

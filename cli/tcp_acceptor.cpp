#include "cli/tcp_acceptor.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <system_error>
#include <thread>

namespace ovl::cli {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct tcp_acceptor::impl {
    impl(const endpoint& bind_to, logger_ptr l) : log(std::move(l)), acceptor(io) {
        const tcp::endpoint local(asio::ip::make_address(bind_to.address.to_string()), bind_to.port);
        boost::system::error_code ec;
        acceptor.open(local.protocol(), ec);
        if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor.bind(local, ec);
        if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) throw std::system_error(std::error_code(ec.value(), std::system_category()), "tcp " + bind_to.to_string());
        accept();
        thread = std::thread([this] { io.run(); });
    }
    ~impl() {
        io.stop();
        thread.join();
    }

    void accept() {
        acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket peer) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                ++count;
                boost::system::error_code ignored;
                log->debug("tcp check from {}", peer.remote_endpoint(ignored).address().to_string());
                peer.close(ignored);
            }
            accept();
        });
    }

    logger_ptr log;
    asio::io_context io;
    tcp::acceptor acceptor;
    std::atomic<std::uint64_t> count{0};
    std::thread thread;
};

tcp_acceptor::tcp_acceptor(const endpoint& bind_to, logger_ptr log) : impl_(std::make_unique<impl>(bind_to, std::move(log))) {}
tcp_acceptor::~tcp_acceptor() = default;
std::uint64_t tcp_acceptor::accepted() const { return impl_->count; }

} // namespace ovl::cli

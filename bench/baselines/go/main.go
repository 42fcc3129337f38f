// Baseline: the tutorial's ListUser served by grpc-go, written the way a Go
// shop would (generated stubs, grpc.NewServer with default options), built
// in GOPATH mode from Debian's packages by build.sh.
//
//	users-go-server HOST PORT
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "usersbench/userpb"
)

// How long SIGTERM waits for calls in flight before closing connections. A
// benchmark's calls are over when it stops the server: keep the wait short.
const drainTimeout = time.Second

type usersServer struct {
	pb.UnimplementedUsersServer
}

func (usersServer) ListUser(_ context.Context, req *pb.UserRequest) (*pb.UserResponse, error) {
	if req.GetId() == 0 {
		return nil, status.Error(codes.NotFound, "Sorry, id is not allowed 0")
	}
	return &pb.UserResponse{Details: []*pb.Detail{{Id: req.GetId(), Value: req.GetName()}}}, nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: users-go-server HOST PORT")
		os.Exit(2)
	}
	// The other baselines take gRPC-style hosts such as "[::]"; JoinHostPort
	// adds the brackets back itself.
	host := strings.TrimSuffix(strings.TrimPrefix(os.Args[1], "["), "]")
	lis, err := net.Listen("tcp", net.JoinHostPort(host, os.Args[2]))
	if err != nil {
		log.Fatal(err)
	}

	s := grpc.NewServer()
	pb.RegisterUsersServer(s, usersServer{})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	// The socket is listening, so calls made from now on are queued, then served.
	fmt.Printf("Server started, listening on %d\n", lis.Addr().(*net.TCPAddr).Port)

	select {
	case err := <-served:
		log.Fatal(err)
	case <-stop:
	}
	// GracefulStop waits until every client has closed its connection, which
	// a load generator's (or a test's) open channel may never do: bound it.
	done := make(chan struct{})
	go func() { s.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
		s.Stop()
	}
}

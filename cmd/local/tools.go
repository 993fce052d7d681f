package main

import (
	"net"
	"net/http"

	"github.com/dingtalk-llm/fcrobot/internal/mcp/mcptest"
)

// docsServer is the small MCP server `make run` starts for the model.
type docsServer struct {
	URL    string
	server *http.Server
}

// startDocsServer serves mcptest's server (a read-only search_docs) on
// the loopback.
func startDocsServer() (*docsServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &http.Server{Handler: mcptest.NewServer()}
	go s.Serve(l) //nolint:errcheck // it ends with Close

	return &docsServer{URL: "http://" + l.Addr().String(), server: s}, nil
}

func (d *docsServer) Close() error { return d.server.Close() }

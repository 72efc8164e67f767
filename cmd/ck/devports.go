package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
)

// PortsFile records, in ck dev's data dir, the ports its listeners got on
// first start. Every key URI stored there carries a vault region's port,
// so later starts take the same ports, even with --port 0.
const PortsFile = "ports.json"

// devPorts are ck dev's three ports; 0 picks a free one.
type devPorts struct {
	Eastus  int `json:"eastus"`
	Westus  int `json:"westus"`
	Service int `json:"service"`
}

func (p devPorts) list() []struct {
	name string
	port int
} {
	return []struct {
		name string
		port int
	}{{"vault region eastus", p.Eastus}, {"vault region westus", p.Westus}, {"Customer Key service", p.Service}}
}

// chooseDevPorts picks ck dev's ports: those recorded in dir, else
// port, port+1 and port+2 (0: free ports). given says whether --port was
// on the command line: a port other than the recorded ones is refused,
// since the stored key URIs would stop resolving. A recorded port that is
// taken is an error naming it.
func chooseDevPorts(dir string, port int, given bool) (p devPorts, recorded bool, err error) {
	file := filepath.Join(dir, PortsFile)
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		if port != 0 {
			p = devPorts{port, port + 1, port + 2}
		}
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	if err := json.Unmarshal(data, &p); err != nil || !validPort(p.Eastus) || !validPort(p.Westus) || !validPort(p.Service) {
		return p, false, fmt.Errorf("%s is not a ports record (want {\"eastus\": N, \"westus\": N, \"service\": N}). Fix: delete it to take new ports (key URIs stored with the old ones then stop resolving)", file)
	}
	if given && port != 0 && (port != p.Eastus || p.Westus != port+1 || p.Service != port+2) {
		return p, true, fmt.Errorf("--port %d: the data dir %s runs on ports %d, %d and %d (recorded in %s), and the key URIs stored there carry them. Fix: drop --port (or pass --port 0) to keep them, or start fresh with another --data dir", port, dir, p.Eastus, p.Westus, p.Service, file)
	}
	for _, l := range p.list() {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(l.port))
		if err != nil {
			return p, true, fmt.Errorf("port %d (%s, recorded in %s) is in use. Fix: stop what holds it (is it a running `ck dev --data %s`? `ss -ltnp 'sport = :%d'` shows it), or start fresh with another --data dir; deleting %s takes new ports but breaks the key URIs stored with the old ones", l.port, l.name, file, dir, l.port, file)
		}
		ln.Close()
	}
	return p, true, nil
}

func validPort(p int) bool { return p > 0 && p < 65536 }

// recordDevPorts writes the ports ck dev got into dir.
func recordDevPorts(dir string, p devPorts) error {
	data, _ := json.MarshalIndent(p, "", "  ")
	file := filepath.Join(dir, PortsFile)
	if err := writeFileAtomic(file, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("record ports: %w", err)
	}
	return nil
}

// urlPort is the port of an https://host:port URL, or 0.
func urlPort(u string) int {
	pu, err := url.Parse(u)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(pu.Port())
	return n
}

package oci

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kheaders/kheaders/internal/input"
)

// credential is what the docker configuration holds for one registry.
// RefreshToken is an identity token (OAuth2 refresh token): from
// "identitytoken" in config.json, or a credential helper's Secret when its
// Username is "<token>".
type credential struct {
	Username, Password, RefreshToken string
}

func (c credential) empty() bool { return c == credential{} }

// dockerConfig is the part of docker's config.json that names credentials.
type dockerConfig struct {
	path        string
	Auths       map[string]dockerAuth `json:"auths"`
	CredsStore  string                `json:"credsStore"`
	CredHelpers map[string]string     `json:"credHelpers"`
}

type dockerAuth struct {
	Auth          string `json:"auth"` // base64 of "user:password"
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
}

// dockerConfigPath is the config.json docker reads: path when given,
// $DOCKER_CONFIG/config.json, or ~/.docker/config.json ("" when there is no
// home directory).
func dockerConfigPath(path string) string {
	if path != "" {
		return path
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker", "config.json")
}

// loadDockerConfig reads the docker configuration at path (see
// dockerConfigPath). A missing file is an empty configuration.
func loadDockerConfig(ctx context.Context, path string) (*dockerConfig, error) {
	cfg := &dockerConfig{path: dockerConfigPath(path)}
	if cfg.path == "" {
		return cfg, nil
	}
	b, err := input.ReadFile(ctx, cfg.path, &input.Options{MaxFile: 16 << 20})
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("parse %s: %v", cfg.path, err)
	}
	return cfg, nil
}

// configKey maps a registry host to the key docker stores it under.
func configKey(host string) string {
	switch host {
	case "docker.io", "registry-1.docker.io", "index.docker.io":
		return "https://index.docker.io/v1/"
	}
	return host
}

// bareHost strips a scheme and path from a config.json auths key
// ("https://host/v1/" -> "host").
func bareHost(key string) string {
	if _, rest, ok := strings.Cut(key, "://"); ok {
		key = rest
	}
	h, _, _ := strings.Cut(key, "/")
	return h
}

// credential returns the credential for host: its credHelpers entry, else
// the credsStore, else (also when the helper has none) its auths entry. No
// credential is the empty one, not an error.
func (cfg *dockerConfig) credential(ctx context.Context, host string) (credential, error) {
	key := configKey(host)
	helper := cfg.CredHelpers[key]
	if helper == "" {
		helper = cfg.CredHelpers[host]
	}
	if helper == "" {
		helper = cfg.CredsStore
	}
	if helper != "" {
		c, err := runCredentialHelper(ctx, helper, key)
		if err != nil || !c.empty() {
			return c, err
		}
	}
	a, ok := cfg.Auths[key]
	if !ok {
		for k, v := range cfg.Auths {
			if bareHost(k) == bareHost(key) {
				a, ok = v, true
				break
			}
		}
	}
	if !ok {
		return credential{}, nil
	}
	var c credential
	if a.Auth != "" {
		b, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			return credential{}, fmt.Errorf("%s: auths[%q].auth is not base64: %v (log in again with 'docker login %s')", cfg.path, key, err, host)
		}
		u, p, ok := strings.Cut(string(b), ":")
		if !ok {
			return credential{}, fmt.Errorf("%s: auths[%q].auth is not base64 of user:password (log in again with 'docker login %s')", cfg.path, key, host)
		}
		c.Username, c.Password = u, p
	}
	if a.Username != "" || a.Password != "" {
		c.Username, c.Password = a.Username, a.Password
	}
	c.RefreshToken = a.IdentityToken
	return c, nil
}

// maxHelperOutput caps what a credential helper may print; helperTimeout
// bounds its run (a helper may ask the user to unlock a keychain).
const (
	maxHelperOutput = 1 << 20
	helperTimeout   = 30 * time.Second
)

// cappedBuffer keeps at most maxHelperOutput bytes. The buffer is a named
// field, not embedded: an embedded bytes.Buffer's ReadFrom would be what
// exec's copy calls, past the cap.
type cappedBuffer struct {
	buf  bytes.Buffer
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > maxHelperOutput {
		b.over = true
		return len(p), nil
	}
	return b.buf.Write(p)
}

// helperNotFound is what a docker credential helper prints (and exits 1)
// when it has nothing for the server; docker compares it exactly.
const helperNotFound = "credentials not found in native keychain"

// runCredentialHelper runs "docker-credential-NAME get" with server on its
// standard input, as docker does, and reads its {"Username","Secret"}
// answer. A helper saying it has no credentials gives the empty credential.
// Nothing the helper printed goes into an error: its output may hold the
// secret.
func runCredentialHelper(ctx context.Context, name, server string) (credential, error) {
	prog := "docker-credential-" + name
	parent := ctx
	ctx, cancel := context.WithTimeout(parent, helperTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, "get")
	cmd.Stdin = strings.NewReader(server)
	var out, errb cappedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	killGroup(cmd)
	// A child of the helper that keeps its output open does not hold the
	// run past the kill.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return credential{}, fmt.Errorf("credential helper %s (named in the docker config.json) is not installed: install it or remove it from credHelpers/credsStore", prog)
		}
		if parent.Err() != nil {
			return credential{}, parent.Err()
		}
		if ctx.Err() != nil {
			return credential{}, fmt.Errorf("credential helper %s get %s: no answer within %v (run 'echo %s | %s get' to see what it waits for)", prog, server, helperTimeout, server, prog)
		}
		if strings.TrimSpace(out.buf.String()) == helperNotFound {
			return credential{}, nil
		}
		return credential{}, fmt.Errorf("credential helper %s get %s: %v (its output is not shown, it may hold a secret: run 'echo %s | %s get' to see it)", prog, server, err, server, prog)
	}
	if out.over {
		return credential{}, fmt.Errorf("credential helper %s get %s: more than %d bytes of output", prog, server, maxHelperOutput)
	}
	return parseHelperOutput(prog, server, out.buf.Bytes())
}

// parseHelperOutput reads a credential helper's answer.
func parseHelperOutput(prog, server string, b []byte) (credential, error) {
	var r struct {
		Username string `json:"Username"`
		Secret   string `json:"Secret"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return credential{}, fmt.Errorf("credential helper %s get %s: answer is not JSON: %v", prog, server, err)
	}
	if r.Username == "<token>" {
		return credential{RefreshToken: r.Secret}, nil
	}
	return credential{Username: r.Username, Password: r.Secret}, nil
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ugnos/ugnos/httpapi"
)

// lpChunkBytes bounds one POST /write of a line-protocol import; a file
// is cut at line ends into pieces of about this size (the server's body
// limit is 64 MiB by default).
const lpChunkBytes = 32 << 20

// importLineProtocol sends a line-protocol file to POST /write: of the
// server at --http-addr, or of an in-process httpapi.Server over the data
// directory, so that both go through the one line-protocol parser.
func (imp *importer) importLineProtocol(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	post := imp.postHTTP
	if imp.db != nil {
		h := httpapi.New(imp.db, httpapi.Config{
			Version:      version,
			Logger:       slog.New(slog.NewTextHandler(imp.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			MaxBodyBytes: lpChunkBytes + bufio.MaxScanTokenSize + (1 << 20),
		})
		post = func(ctx context.Context, body []byte) (int, []byte, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, imp.writeURL("http://ugnos"), bytes.NewReader(body))
			if err != nil {
				return 0, nil, err
			}
			req.Header.Set("Content-Type", "text/plain; charset=utf-8")
			w := &responseBuffer{header: http.Header{}}
			h.ServeHTTP(w, req)
			if w.status == 0 {
				w.status = http.StatusOK
			}
			return w.status, w.body.Bytes(), nil
		}
	}
	prog := newProgress(path, imp.stderr, imp.log, imp.cfg.every)
	br := bufio.NewReaderSize(f, 1<<20)
	var buf []byte
	var done, lines int64
	firstLine := int64(1)
	for {
		buf = buf[:0]
		for len(buf) < lpChunkBytes {
			line, err := br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				buf = append(buf, line...)
				continue
			}
			buf = append(buf, line...)
			if err == io.EOF {
				break
			}
			if err != nil {
				prog.finish(lines, err)
				return err
			}
		}
		if len(buf) == 0 {
			break
		}
		n := int64(bytes.Count(buf, []byte{'\n'}))
		if buf[len(buf)-1] != '\n' {
			n++
		}
		status, body, err := post(ctx, buf)
		if err == nil && status != http.StatusNoContent && status != http.StatusOK {
			err = writeError(status, body)
			if firstLine > 1 {
				err = fmt.Errorf("in the piece that starts at line %d (line numbers in the message count from there; the lines before it are stored): %w", firstLine, err)
			}
		}
		if err != nil {
			prog.finish(lines, err)
			return err
		}
		done += int64(len(buf))
		lines += n
		firstLine += n
		prog.set(lines, done, st.Size())
		if len(buf) < lpChunkBytes {
			break
		}
	}
	prog.finish(lines, nil)
	return nil
}

// writeURL is the /write URL of a base URL.
func (imp *importer) writeURL(base string) string {
	return base + "/write?" + url.Values{"db": {imp.cfg.db}, "precision": {imp.cfg.precision}}.Encode()
}

// postHTTP sends a piece of line protocol to the server at --http-addr.
func (imp *importer) postHTTP(ctx context.Context, body []byte) (int, []byte, error) {
	base := imp.cfg.httpAddr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, imp.writeURL(strings.TrimSuffix(base, "/")), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	if imp.cfg.password != "" {
		req.SetBasicAuth(imp.cfg.user, imp.cfg.password)
	}
	c := &http.Client{Timeout: 10 * time.Minute}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST /write to %s: %w", imp.cfg.httpAddr, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, rb, nil
}

// writeError turns an error answer of /write into an error.
func writeError(status int, body []byte) error {
	var e struct{ Code, Message string }
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return fmt.Errorf("%s (HTTP %d, %s)", e.Message, status, e.Code)
	}
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		return fmt.Errorf("the HTTP API has no POST /write (HTTP %d)", status)
	}
	return fmt.Errorf("HTTP %d: %s", status, strings.TrimSpace(string(body)))
}

// responseBuffer is the http.ResponseWriter of an in-process request.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseBuffer) Header() http.Header { return w.header }
func (w *responseBuffer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}
func (w *responseBuffer) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/httpapi"
)

func TestHealth(t *testing.T) {
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ts := httptest.NewServer(httpapi.New(db, httpapi.Config{Version: "test"}))
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status, Version string
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.Status != "ok" || body.Version != "test" {
		t.Fatalf("%d %+v %v", resp.StatusCode, body, err)
	}
}

import java.sql.*;
import java.util.*;

// Run by pgwire's TestJDBC against a fresh ugnos server:
//   java -cp postgresql.jar ClientTest.java <jdbc url>
// Every check throws on a wrong answer; "ALL OK" at the end means all passed.
public class ClientTest {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
        System.out.println("ok: " + what);
    }

    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0])) {
            try (Statement st = c.createStatement()) {
                st.execute("CREATE TABLE cpu (time timestamptz, hostname text, usage_user double precision, n bigint, ok boolean)");
            }
            // batch insert through a prepared statement
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO cpu (time, hostname, usage_user, n, ok) VALUES (?, ?, ?, ?, ?)")) {
                for (int i = 0; i < 100; i++) {
                    ps.setTimestamp(1, Timestamp.from(java.time.Instant.parse("2016-01-01T00:00:00Z").plusSeconds(10L * i)));
                    ps.setString(2, "host_" + (i % 4));
                    ps.setDouble(3, i * 0.5);
                    ps.setLong(4, i);
                    ps.setBoolean(5, i % 2 == 0);
                    ps.addBatch();
                }
                int[] counts = ps.executeBatch();
                check(counts.length == 100 && counts[0] == 1, "executeBatch inserts 100 rows");
            }
            // the same prepared query many times: past prepareThreshold the
            // driver switches to a named statement and binary results
            try (PreparedStatement ps = c.prepareStatement("SELECT count(*), sum(usage_user), max(time), bool_and(ok) FROM cpu WHERE hostname = ? AND n >= ?")) {
                for (int round = 0; round < 5; round++) {
                    ps.setString(1, "host_1");
                    ps.setLong(2, 50);
                    try (ResultSet rs = ps.executeQuery()) {
                        check(rs.next(), "row in round " + round);
                        check(rs.getLong(1) == 12, "count in round " + round + ": " + rs.getLong(1));
                        // n = 53, 57, ..., 97: usage_user = n / 2
                        double want = 0;
                        for (int n = 53; n < 100; n += 4) want += n * 0.5;
                        check(Math.abs(rs.getDouble(2) - want) < 1e-9, "sum in round " + round + ": " + rs.getDouble(2));
                        check(rs.getTimestamp(3).toInstant().equals(java.time.Instant.parse("2016-01-01T00:16:10Z")), "max(time) in round " + round + ": " + rs.getTimestamp(3).toInstant());
                        check(!rs.getBoolean(4), "bool_and in round " + round);
                    }
                }
            }
            // a cursor: setFetchSize inside a transaction fetches in portions
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.setFetchSize(7);
                try (ResultSet rs = st.executeQuery("SELECT n FROM cpu ORDER BY n")) {
                    long expect = 0;
                    while (rs.next()) {
                        check(rs.getLong(1) == expect, "cursor row " + expect);
                        expect++;
                    }
                    check(expect == 100, "cursor returned 100 rows");
                }
            }
            c.commit();
            c.setAutoCommit(true);
            // metadata
            DatabaseMetaData md = c.getMetaData();
            check(md.getDatabaseProductName().equals("PostgreSQL"), "product name " + md.getDatabaseProductName());
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = md.getTables(null, "public", "%", new String[]{"TABLE"})) {
                while (rs.next()) tables.add(rs.getString("TABLE_NAME"));
            }
            check(tables.equals(List.of("cpu")), "getTables " + tables);
            List<String> cols = new ArrayList<>();
            try (ResultSet rs = md.getColumns(null, "public", "cpu", "%")) {
                while (rs.next()) cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
            }
            check(cols.equals(List.of("time:timestamptz", "hostname:text", "usage_user:float8", "n:int8", "ok:bool")), "getColumns " + cols);
            // what DBeaver and Metabase read on connect and sync
            try (ResultSet rs = md.getSchemas()) {
                List<String> schemas = new ArrayList<>();
                while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM"));
                check(schemas.contains("public") && schemas.contains("pg_catalog"), "getSchemas " + schemas);
            }
            try (ResultSet rs = md.getCatalogs()) {
                check(rs.next() && rs.getString(1).equals("postgres"), "getCatalogs");
            }
            try (ResultSet rs = md.getPrimaryKeys(null, "public", "cpu")) {
                check(!rs.next(), "getPrimaryKeys: none");
            }
            try (ResultSet rs = md.getImportedKeys(null, "public", "cpu")) {
                check(!rs.next(), "getImportedKeys: none");
            }
            try (ResultSet rs = md.getIndexInfo(null, "public", "cpu", false, true)) {
                while (rs.next()) { }
                check(true, "getIndexInfo");
            }
            try (ResultSet rs = md.getTypeInfo()) {
                Set<String> types = new HashSet<>();
                while (rs.next()) types.add(rs.getString("TYPE_NAME"));
                check(types.containsAll(List.of("int8", "float8", "text", "timestamptz", "bool")), "getTypeInfo has the served types");
            }
            try (ResultSet rs = md.getTableTypes()) {
                check(rs.next(), "getTableTypes");
            }
            check(md.getDatabaseMajorVersion() == 15, "major version " + md.getDatabaseMajorVersion());
            String tz;
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW TimeZone")) {
                check(rs.next(), "SHOW TimeZone");
                tz = rs.getString(1); // the driver sets the JVM's zone at start-up
            }
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT current_schema(), session_user, current_setting('TimeZone')")) {
                check(rs.next() && "public".equals(rs.getString(1)) && "ugnos".equals(rs.getString(2)) && tz.equals(rs.getString(3)), "session functions (TimeZone " + tz + ")");
            }
            // errors carry SQLSTATE; the connection goes on
            try (Statement st = c.createStatement()) {
                st.executeQuery("SELECT nosuch FROM cpu");
                check(false, "error expected");
            } catch (SQLException e) {
                check("42703".equals(e.getSQLState()), "SQLSTATE " + e.getSQLState());
            }
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT version()")) {
                check(rs.next() && rs.getString(1).contains("ugnos"), "version()");
            }
        }
        System.out.println("ALL OK");
    }
}

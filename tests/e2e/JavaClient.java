// The Java runtime's own networking under the preload, run as a single-file
// program (java JavaClient.java MODE HOST PORT N): InetAddress resolves
// through getaddrinfo, java.net.Socket connects blocking, HttpClient through
// a non-blocking SocketChannel. Prints each response body, or "error: ...".
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

public class JavaClient {
    static String socketGet(String host, int port) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 5000);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(("GET / HTTP/1.0\r\nHost: " + host + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            String line, last = "";
            boolean body = false;
            while ((line = in.readLine()) != null) {
                if (body && !line.isEmpty()) last = line;
                if (line.isEmpty()) body = true;
            }
            return last;
        }
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0], host = args[1];
        int port = Integer.parseInt(args[2]), n = Integer.parseInt(args[3]);
        // a fresh client (so a fresh connection) per request: each is a new choice
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        for (int i = 0; i < n; i++) {
            try {
                if (mode.equals("socket")) {
                    System.out.println(socketGet(host, port));
                } else {
                    HttpRequest req = HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + "/"))
                        .timeout(Duration.ofSeconds(5)).build();
                    System.out.println(client.send(req, HttpResponse.BodyHandlers.ofString()).body().trim());
                    client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
                }
            } catch (Exception e) {
                System.out.println("error: " + e);
            }
        }
    }
}

-- Development data: a few users and orders to click around with.
INSERT INTO users (name, email) VALUES
    ('Ada Lovelace', 'ada@example.com'),
    ('Grace Hopper', 'grace@example.com'),
    ('Edsger Dijkstra', 'edsger@example.com');

INSERT INTO orders (user_id, total_cents, status)
SELECT u.id, 1000 * g, (ARRAY['pending', 'paid', 'shipped']::order_status[])[1 + g % 3]
FROM users u CROSS JOIN generate_series(1, 3) AS g;

-- Minimal, predictable data for automated tests.
INSERT INTO users (name, email) VALUES ('Test User', 'test@example.com');
INSERT INTO orders (user_id, total_cents) SELECT id, 500 FROM users WHERE email = 'test@example.com';

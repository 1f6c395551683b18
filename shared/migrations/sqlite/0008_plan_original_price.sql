-- identical to ../mysql/0008_plan_original_price.sql.

-- Seed 004's products (plans) show a struck-through original price beside the price, in cents.
ALTER TABLE plans ADD COLUMN original_price_cents BIGINT NOT NULL DEFAULT 0;
